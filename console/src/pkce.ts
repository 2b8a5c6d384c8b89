/**
 * The pure parts of OIDC sign-in (authorization code with PKCE, RFC 7636): the verifier, its S256
 * challenge, the state that ties the answer to the request, and the authorization URL. Kept free
 * of the DOM's storage and navigation so they are unit-tested.
 */

const base64Url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/** `bytes` random bytes, base64url: 32 give a 43-character verifier, the RFC's minimum length. */
export const randomToken = (bytes = 32): string => base64Url(crypto.getRandomValues(new Uint8Array(bytes)));

/** BASE64URL(SHA256(verifier)), the `S256` code challenge. */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

export interface AuthorizationRequest {
  authorizationEndpoint: string;
  clientId: string;
  redirectUri: string;
  state: string;
  challenge: string;
}

export function authorizationUrl(request: AuthorizationRequest): string {
  const url = new URL(request.authorizationEndpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', request.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri);
  url.searchParams.set('scope', 'openid profile');
  url.searchParams.set('state', request.state);
  url.searchParams.set('code_challenge', request.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

export class SignInError extends Error {
  override readonly name = 'SignInError';
}

/**
 * The code of the issuer's answer (`?code=…&state=…`), once its state is the one this browser sent:
 * an answer to someone else's request (or a replay) is refused.
 */
export function authorizationCode(search: string, expectedState: string | null): string {
  const params = new URLSearchParams(search);
  const error = params.get('error');
  if (error) throw new SignInError(`The issuer refused sign-in: ${params.get('error_description') ?? error}`);
  const code = params.get('code');
  if (!code) throw new SignInError('The issuer answered without an authorization code');
  if (!expectedState || params.get('state') !== expectedState) {
    throw new SignInError('The sign-in answer does not match a request from this browser; sign in again');
  }
  return code;
}
