import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { closeServer, listenOnLoopback, readBody } from '../../local/http.js';

/**
 * A stand-in OIDC provider for tests: a freshly generated key pair, its key set and discovery
 * document served over `node:http` on a free port, and real signed tokens. It also signs a browser
 * in: `/authorize` consents at once for the configured user and redirects back with a code, and
 * `/token` trades the code for an access token only with the PKCE verifier of its S256 challenge.
 * Stop it in teardown.
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

/**
 * `jwksUri`: what the discovery document names as the key set (its own `/jwks` by default).
 * `user`: the claims of whoever signs in at `/authorize` (their access token's, beside `azp`).
 */
export async function startOidcProvider(
  alg: 'RS256' | 'ES256' = 'RS256',
  options: { jwksUri?: string; user?: JWTPayload } = {},
): Promise<TestOidcProvider> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg, use: 'sig' };
  const requests: string[] = [];
  let issuer = '';
  const sign: TestOidcProvider['sign'] = (claims = {}, signing = {}) => {
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
        alg: signing.alg ?? alg,
        kid: signing.kid ?? KID,
        typ: 'typ' in signing ? signing.typ : 'JWT',
      })
      .sign(signing.key ?? privateKey);
  };
  /** Codes handed out by /authorize, each good for one exchange. */
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge: string }>();
  const json = (res: ServerResponse, status: number, body: unknown) => {
    // Browsers fetch discovery and the token endpoint from the console's origin.
    res.writeHead(status, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
    res.end(JSON.stringify(body));
  };
  const authorize = (url: URL, res: ServerResponse) => {
    const param = (name: string) => url.searchParams.get(name) ?? '';
    if (
      param('response_type') !== 'code' ||
      param('code_challenge_method') !== 'S256' ||
      !param('code_challenge')
    )
      return json(res, 400, { error: 'invalid_request' });
    const code = randomUUID();
    codes.set(code, {
      clientId: param('client_id'),
      redirectUri: param('redirect_uri'),
      challenge: param('code_challenge'),
    });
    const back = new URL(param('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', param('state'));
    res.writeHead(302, { Location: back.toString() });
    res.end();
  };
  const token = async (req: IncomingMessage, res: ServerResponse) => {
    const form = new URLSearchParams((await readBody(req)).toString());
    const grant = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    const valid =
      grant &&
      form.get('grant_type') === 'authorization_code' &&
      form.get('client_id') === grant.clientId &&
      form.get('redirect_uri') === grant.redirectUri &&
      createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
    if (!valid) return json(res, 400, { error: 'invalid_grant' });
    const accessToken = await sign({ sub: 'user-1', ...options.user, azp: grant.clientId });
    json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3600 });
  };
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/authorize') return authorize(url, res);
    if (url.pathname === '/token' && req.method === 'POST') return void token(req, res);
    const body =
      url.pathname === '/.well-known/openid-configuration'
        ? {
            issuer,
            jwks_uri: options.jwksUri ?? `${issuer}/jwks`,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
          }
        : url.pathname === '/jwks'
          ? { keys: [jwk] }
          : undefined;
    json(res, body ? 200 : 404, body ?? { error: 'not found' });
  });
  issuer = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  return {
    issuer,
    audience: TEST_AUDIENCE,
    jwksUri: `${issuer}/jwks`,
    requests,
    sign,
    stop: () => closeServer(server),
  };
}
