import type { OidcSettings } from '../auth/oidc-settings.js';

/**
 * The Content-Security-Policy the operator console is served with. The console is a static build
 * (scripts, styles, images from its own origin; Vite may inline small images and fonts as `data:`)
 * that calls the API on its own origin, so everything is `'self'`. The one exception is sign-in:
 * the console exchanges the authorization code for tokens at the OIDC issuer's token endpoint with
 * `fetch`, so `connect-src` also allows the issuer's origin when OIDC is configured. (The redirect
 * to the issuer's authorization endpoint is a top-level navigation, which CSP does not restrict.)
 */
export function consoleContentSecurityPolicy(oidc: OidcSettings | undefined): string {
  const connect = ["'self'", ...(oidc ? [new URL(oidc.issuer).origin] : [])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    // Never framed: no clickjacking of the cancel and retry buttons.
    "frame-ancestors 'none'",
  ].join('; ');
}
