import { z } from 'zod';
import { OIDC_ENV } from '../environment.js';

/** Which identity provider signs the Bearer tokens the service accepts, and how to read them. */
export interface OidcSettings {
  /** The issuer URL, exactly as the tokens' `iss` claim spells it. */
  readonly issuer: string;
  /** The audience the tokens must name in `aud` (the client id, or an API identifier). */
  readonly audience: string;
  /** The claim holding the user's roles (default {@link DEFAULT_ROLES_CLAIM}). */
  readonly rolesClaim: string;
  /** Where the signing keys are; discovered from the issuer's `openid-configuration` when absent. */
  readonly jwksUri?: string;
  /**
   * The OAuth client ids a token may have been issued to: a token naming its client in `azp` must
   * name one of these. When absent, the audience is the one client (`aud` is the client id).
   */
  readonly clientIds?: readonly string[];
}

export const DEFAULT_ROLES_CLAIM = 'roles';

/** How each setting is named where it is read from (CDK context keys, environment variables), for messages. */
export type OidcSettingNames = Readonly<Record<keyof OidcSettings, string>>;

export class OidcSettingsError extends Error {
  override readonly name = 'OidcSettingsError';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Plain http to this machine: how an identity provider runs beside `npm start` (and in the tests). */
export const isLoopbackHttp = (url: URL): boolean =>
  url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);

/**
 * Keys and tokens are trusted because of where they come from, so only https will do. Plain http is
 * allowed to a loopback host where asked (`npm start` against an identity provider on the same
 * machine): a deployed function could never reach one, so the CDK context does not allow it.
 */
export const trustedUrl = (allowLoopbackHttp: boolean) =>
  z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a URL' });
      return;
    }
    if (url.protocol !== 'https:' && !(allowLoopbackHttp && isLoopbackHttp(url))) {
      ctx.addIssue({
        code: 'custom',
        message: allowLoopbackHttp ? 'must be an https URL (http only to localhost)' : 'must be an https URL',
      });
    }
  });

/** A list in `cdk.json`, or one string separated by commas (`-c`, environment variables). */
const clientIdsSchema = z
  .union([z.string(), z.array(z.string())], { error: 'must be client ids separated by commas' })
  .transform((value) =>
    (typeof value === 'string' ? value.split(',') : value).map((id) => id.trim()).filter((id) => id !== ''),
  )
  .pipe(z.array(z.string()).min(1, 'must name at least one client id'));

const settingsSchema = (allowLoopbackHttp: boolean) =>
  z.strictObject({
    issuer: trustedUrl(allowLoopbackHttp),
    audience: z.string({ error: 'is required (a string) when the issuer is set' }),
    rolesClaim: z.string().min(1).default(DEFAULT_ROLES_CLAIM),
    jwksUri: trustedUrl(allowLoopbackHttp).optional(),
    clientIds: clientIdsSchema.optional(),
  });

/** Settings as read, before checking: `undefined` or an empty string means not set. */
export type RawOidcSettings = Partial<Record<keyof OidcSettings, unknown>>;

/**
 * Checks OIDC settings; `undefined` when no issuer is set (OIDC off). Throws
 * {@link OidcSettingsError} naming the setting as `names` spells it.
 */
export function parseOidcSettings(
  raw: RawOidcSettings,
  options: { names: OidcSettingNames; allowLoopbackHttp: boolean },
): OidcSettings | undefined {
  const { names } = options;
  const given = Object.fromEntries(
    Object.entries(raw).filter(([, value]) => value !== undefined && value !== ''),
  ) as RawOidcSettings;
  if (given.issuer === undefined) {
    const stray = (Object.keys(given) as (keyof OidcSettings)[]).map((key) => names[key]);
    if (stray.length > 0) {
      throw new OidcSettingsError(
        `${stray.join(', ')} set without ${names.issuer}: OIDC is off without an issuer.`,
      );
    }
    return undefined;
  }
  const parsed = settingsSchema(options.allowLoopbackHttp).safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] as keyof OidcSettings;
    throw new OidcSettingsError(`${names[key]} ${issue?.message}, got ${JSON.stringify(given[key])}.`);
  }
  return parsed.data;
}

/** The settings from the environment (authorizer, `npm start`); `undefined` when OIDC is off. */
export const oidcSettingsFromEnv = (env: NodeJS.ProcessEnv): OidcSettings | undefined =>
  parseOidcSettings(
    {
      issuer: env[OIDC_ENV.issuer],
      audience: env[OIDC_ENV.audience],
      rolesClaim: env[OIDC_ENV.rolesClaim],
      jwksUri: env[OIDC_ENV.jwksUri],
      clientIds: env[OIDC_ENV.clientIds],
    },
    { names: OIDC_ENV, allowLoopbackHttp: true },
  );

/** The environment variables that hand `settings` to the authorizer (the inverse of {@link oidcSettingsFromEnv}). */
export const oidcEnvironment = (settings: OidcSettings): Record<string, string> => ({
  [OIDC_ENV.issuer]: settings.issuer,
  [OIDC_ENV.audience]: settings.audience,
  [OIDC_ENV.rolesClaim]: settings.rolesClaim,
  ...(settings.jwksUri ? { [OIDC_ENV.jwksUri]: settings.jwksUri } : {}),
  ...(settings.clientIds ? { [OIDC_ENV.clientIds]: settings.clientIds.join(',') } : {}),
});
