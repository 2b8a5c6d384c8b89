import { createServer } from 'node:http';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { closeServer, listenOnLoopback } from '../../local/http.js';

/**
 * A stand-in OIDC provider for tests: a freshly generated key pair, its key set and discovery
 * document served over `node:http` on a free port, and real signed tokens. Stop it in teardown.
 */
export interface TestOidcProvider {
  /** `http://127.0.0.1:<port>`, as the tokens' `iss` says. */
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  /** Requests served so far, by path (to see what was fetched). */
  readonly requests: string[];
  /**
   * A token signed with the provider's key (or `key`, to sign with another), valid for an hour from
   * now unless the claims say otherwise (`exp`, `nbf`, `iat` as epoch seconds). `typ` is `JWT`
   * unless given (`undefined` leaves it out).
   */
  sign(
    claims?: JWTPayload,
    options?: { key?: CryptoKey; kid?: string; alg?: string; typ?: string | undefined },
  ): Promise<string>;
  stop(): Promise<void>;
}

export const TEST_AUDIENCE = 'schedule-service';
const KID = 'test-key';

/** `jwksUri`: what the discovery document names as the key set (its own `/jwks` by default). */
export async function startOidcProvider(
  alg: 'RS256' | 'ES256' = 'RS256',
  options: { jwksUri?: string } = {},
): Promise<TestOidcProvider> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg, use: 'sig' };
  const requests: string[] = [];
  let issuer = '';
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: options.jwksUri ?? `${issuer}/jwks` }
        : req.url === '/jwks'
          ? { keys: [jwk] }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  issuer = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  return {
    issuer,
    audience: TEST_AUDIENCE,
    jwksUri: `${issuer}/jwks`,
    requests,
    sign: (claims = {}, options = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        aud: TEST_AUDIENCE,
        sub: 'user-1',
        iat: now,
        exp: now + 3600,
        ...claims,
      })
        .setProtectedHeader({
          alg: options.alg ?? alg,
          kid: options.kid ?? KID,
          typ: 'typ' in options ? options.typ : 'JWT',
        })
        .sign(options.key ?? privateKey);
    },
    stop: () => closeServer(server),
  };
}
