import { z } from 'zod';
import type { OidcSettings } from '../auth/oidc-settings.js';
import { API_BASE_PATH } from './routes.js';

/**
 * What the operator console reads at start (`config.json` beside its `index.html`): where the API
 * is and how to sign in. Served by `npm start` and written into the console's bucket by the stack,
 * from the same settings the authorizer uses, so the console cannot name another issuer.
 */
export const ConsoleConfigSchema = z.strictObject({
  /** The API's path on the console's own origin (no CORS): {@link API_BASE_PATH}. */
  apiBase: z.string(),
  /** Sign-in with the OIDC issuer (authorization code with PKCE), or null when OIDC is off. */
  oidc: z
    .strictObject({
      issuer: z.string(),
      /** The public client the console signs in as: the first of `clientIds`, else the audience. */
      clientId: z.string(),
    })
    .nullable(),
});

export type ConsoleConfig = z.infer<typeof ConsoleConfigSchema>;

/** The console's source folder and its built files, relative to the repository root. */
export const CONSOLE_SOURCE_DIR = 'console';
export const CONSOLE_BUILD_DIR = 'console/dist';
/** The config file's name beside `index.html`. */
export const CONSOLE_CONFIG_FILE = 'config.json';

export const consoleConfig = (oidc: OidcSettings | undefined): ConsoleConfig => ({
  apiBase: API_BASE_PATH,
  oidc: oidc ? { issuer: oidc.issuer, clientId: oidc.clientIds?.[0] ?? oidc.audience } : null,
});

/**
 * The Content-Security-Policy the console is served with, locally and by CloudFront. It is a static
 * build (scripts, styles, images from its own origin; Vite may inline small images and fonts as
 * `data:`) calling the API on its own origin, so everything is `'self'`, except sign-in: the console
 * fetches the issuer's discovery document and exchanges the code for tokens with `fetch`, so
 * `connect-src` also allows the issuer's origin. (The redirect to the authorization endpoint is a
 * top-level navigation, which CSP does not restrict.)
 */
export const consoleContentSecurityPolicy = (config: ConsoleConfig): string =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${config.oidc ? ` ${new URL(config.oidc.issuer).origin}` : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    // Never framed: no clickjacking of the cancel and retry buttons.
    "frame-ancestors 'none'",
  ].join('; ');
