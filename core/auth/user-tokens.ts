import {
  createRemoteJWKSet,
  errors,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { z } from 'zod';
import { type Principal, Role } from '../model.js';
import { type Clock, systemClock } from '../ports.js';
import { isLoopbackHttp, type OidcSettings, trustedUrl } from './oidc-settings.js';

/**
 * Signed-in users: verifies an OIDC access token (`Authorization: Bearer`) against the
 * configured issuer's keys and turns it into a `User` principal. Framework-free: the authorizer,
 * the local runtime and the tests use it as is.
 */

/**
 * Asymmetric only: a shared-secret algorithm (HS*) would let anyone holding the secret mint tokens,
 * and `none` is no signature at all. RS256 is what every OIDC provider offers; ES256 is the common
 * alternative.
 */
export const ALLOWED_ALGORITHMS = ['RS256', 'ES256'] as const;

/** Leeway on `exp` and `nbf` for clocks that differ a little between the provider and Lambda. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Where the user's display name is looked for, first found wins; `sub` when none is there. */
export const NAME_CLAIMS = ['name', 'preferred_username', 'email'] as const;

/**
 * Both fetches (discovery, key set) sit on the authorizer's path, inside its 10 s timeout, and the
 * key set is fetched again when a token names an unknown key: each gets well under half of it.
 */
const FETCH_TIMEOUT_MS = 3_000;

/** Why a token was not accepted. Never carries the token or its claims. */
export interface TokenRefusal {
  /**
   * `token`: the token itself is not acceptable (expired, wrong issuer or audience, bad signature,
   * an ID token, issued to another client).
   * `keys`: the issuer's keys could not be had (an outage or a misconfiguration): every user is
   * refused until they can, which operators need to hear about.
   */
  readonly cause: 'token' | 'keys';
  /** jose's error code (`ERR_JWT_EXPIRED`, …) or one of ours. */
  readonly code: string;
  readonly message: string;
}

/** jose's codes for a token that is at fault; any other failure is about getting the keys. */
const TOKEN_ERROR_CODES = new Set<string>([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWTInvalid.code,
  errors.JWSInvalid.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
]);

export interface UserTokenVerifierOptions {
  /** What "now" is for `exp` and `nbf`. */
  readonly clock?: Clock;
  /** Told why each refused token was refused (for the log). */
  readonly onRefused?: (refusal: TokenRefusal) => void;
}

/**
 * `typ` values an access token may carry: RFC 9068's `at+jwt`, or the generic `JWT` most providers
 * put on every token (or none at all). Any other type (`id_token+jwt`, `logout+jwt`, `secevent+jwt`)
 * says the token is meant for something else. Compared as RFC 7515 section 4.1.9 asks: ignoring
 * case, with the `application/` prefix optional.
 */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'jwt']);

/**
 * Claims only an ID token carries (OpenID Connect Core 1.0, sections 2, 3.1.3.6 and 3.3.2.11):
 * `nonce` echoes the sign-in request, `at_hash` and `c_hash` bind it to the access token or code
 * issued with it. An ID token tells the client who signed in; it is no grant to call an API, and
 * one that leaked from the client (logs, browser storage) must not work as one. Providers that type
 * both kinds `JWT` leave these as the only way to tell them apart.
 */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash'] as const;

/**
 * What is wrong with a token whose signature, issuer, audience and lifetime are good, or `undefined`
 * when nothing is. `clientIds` are the clients the token may have been issued to (`azp`).
 */
function claimsRefusal(
  header: JWTHeaderParameters,
  payload: JWTPayload,
  clientIds: readonly string[],
): Omit<TokenRefusal, 'cause'> | undefined {
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    return { code: 'ERR_JWT_NO_SUBJECT', message: 'The "sub" claim is empty.' };
  }
  // Not trusted to be a string: jose checks `typ` only when asked for one value.
  const type: unknown = header.typ;
  const accessType =
    type === undefined ||
    (typeof type === 'string' && ACCESS_TOKEN_TYPES.has(type.toLowerCase().replace(/^application\//, '')));
  if (!accessType) {
    return { code: 'ERR_JWT_NOT_ACCESS_TOKEN', message: 'The "typ" header names another kind of token.' };
  }
  const idTokenClaim = ID_TOKEN_CLAIMS.find((name) => name in payload);
  if (idTokenClaim) {
    return { code: 'ERR_JWT_NOT_ACCESS_TOKEN', message: `An ID token (it has "${idTokenClaim}").` };
  }
  // OpenID Connect Core 1.0, section 2: `azp` names the client the token was issued to.
  if (payload.azp !== undefined && !clientIds.some((id) => id === payload.azp)) {
    return { code: 'ERR_JWT_UNKNOWN_CLIENT', message: 'The "azp" claim names a client not configured.' };
  }
  return undefined;
}

/**
 * The part of the discovery document this needs (OpenID Connect Discovery 1.0, section 3). The keys
 * decide whose tokens are believed, so their URL must be as trustworthy as the issuer's: https, or
 * http to this machine only when the issuer itself is served that way (a local provider).
 */
const discoveryDocument = (issuer: string) =>
  z.object({ issuer: z.string(), jwks_uri: trustedUrl(isLoopbackHttp(new URL(issuer))) });

class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
}

const ROLE_VALUES = new Set<string>(Object.values(Role));

/**
 * Roles as the provider writes them: an array of strings, or one string separated by spaces or
 * commas (as `scope` is). Only the service's own roles count; the provider's others (groups, other
 * apps' roles) are ignored, so a user with none of ours is authenticated and answered 403.
 */
function rolesFrom(value: unknown): Role[] {
  const values = typeof value === 'string' ? value.split(/[\s,]+/) : Array.isArray(value) ? value : [];
  return [
    ...new Set(values.filter((role): role is Role => typeof role === 'string' && ROLE_VALUES.has(role))),
  ];
}

/**
 * The claim's value: a top-level claim of that exact name (namespaced claims such as
 * `https://example.com/roles` contain dots), else a dotted path into nested claims (Keycloak's
 * `realm_access.roles`).
 */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  return name
    .split('.')
    .reduce<unknown>(
      (node, part) =>
        node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined,
      payload,
    );
}

const displayName = (payload: JWTPayload, subject: string): string =>
  NAME_CLAIMS.map((name) => payload[name]).find(
    (value): value is string => typeof value === 'string' && value.trim() !== '',
  ) ?? subject;

export class UserTokenVerifier {
  private readonly clock: Clock;
  private keySet: Promise<JWTVerifyGetKey> | undefined;

  constructor(
    private readonly settings: OidcSettings,
    private readonly options: UserTokenVerifierOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * The user the token stands for, or `undefined` when it is not acceptable for any reason,
   * including the provider's keys being out of reach (the caller answers 401, never 500).
   */
  async authenticate(token: string): Promise<Principal | undefined> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, await this.keys(), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: [...ALLOWED_ALGORITHMS],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: this.clock.now(),
        // A token without an expiry would be good forever; one without a subject names nobody.
        requiredClaims: ['exp', 'sub'],
      });
      const refusal = claimsRefusal(
        protectedHeader,
        payload,
        this.settings.clientIds ?? [this.settings.audience],
      );
      if (refusal) {
        this.refuse({ cause: 'token', ...refusal });
        return undefined;
      }
      // claimsRefusal refused a token without one.
      const subject = payload.sub as string;
      return {
        type: 'User',
        id: subject,
        name: displayName(payload, subject),
        roles: rolesFrom(claim(payload, this.settings.rolesClaim)),
      };
    } catch (error) {
      const code =
        error instanceof errors.JOSEError ? error.code : error instanceof Error ? error.name : 'ERR';
      this.refuse({
        cause: TOKEN_ERROR_CODES.has(code) ? 'token' : 'keys',
        code,
        // jose's messages name the check that failed, never the token or a claim's value.
        message: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  private refuse(refusal: TokenRefusal): void {
    this.options.onRefused?.(refusal);
  }

  /**
   * The issuer's key set, once per verifier (jose caches the keys and fetches them again when a
   * token names a new one). A failed discovery is forgotten, so the next request tries again.
   */
  private keys(): Promise<JWTVerifyGetKey> {
    this.keySet ??= this.jwksUri().then(
      (uri) => createRemoteJWKSet(new URL(uri), { timeoutDuration: FETCH_TIMEOUT_MS }),
      (error: unknown) => {
        this.keySet = undefined;
        throw error;
      },
    );
    return this.keySet;
  }

  private async jwksUri(): Promise<string> {
    if (this.settings.jwksUri) return this.settings.jwksUri;
    const issuer = this.settings.issuer;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new DiscoveryError(`${url} answered ${response.status}.`);
    const document = discoveryDocument(issuer).safeParse(await response.json());
    if (!document.success) {
      const issue = document.error.issues[0];
      throw new DiscoveryError(`${url} has no valid ${issue?.path.join('.')}: it ${issue?.message}.`);
    }
    // Discovery section 4.3: a document naming another issuer must not be used.
    if (document.data.issuer !== issuer) {
      throw new DiscoveryError(`${url} names the issuer ${document.data.issuer}, not ${issuer}.`);
    }
    return document.data.jwks_uri;
  }
}
