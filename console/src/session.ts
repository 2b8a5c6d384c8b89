import type { ConsoleConfig } from '../../core/api/console-config.js';
import type { Credential } from './api.js';
import { authorizationCode, authorizationUrl, codeChallenge, randomToken, SignInError } from './pkce.js';

/**
 * The signed-in credential lives in sessionStorage only: it dies with the tab, and never reaches
 * localStorage, where it would outlive the session and be readable by every later visit.
 */

const CREDENTIAL = 'console.credential';
const PENDING = 'console.oidc-pending';

export const savedCredential = (): Credential | undefined => {
  const raw = sessionStorage.getItem(CREDENTIAL);
  return raw ? (JSON.parse(raw) as Credential) : undefined;
};
export const saveCredential = (credential: Credential) =>
  sessionStorage.setItem(CREDENTIAL, JSON.stringify(credential));
export const forgetCredential = () => sessionStorage.removeItem(CREDENTIAL);

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!response.ok) throw new SignInError(`The issuer's discovery document answered ${response.status}`);
  return (await response.json()) as Discovery;
}

/** The console's own address, where the issuer sends the browser back. */
const redirectUri = () => `${location.origin}${location.pathname}`;

/** Off to the issuer's sign-in page, with a fresh verifier and state kept for the way back. */
export async function beginOidcSignIn(oidc: NonNullable<ConsoleConfig['oidc']>): Promise<void> {
  const discovery = await discover(oidc.issuer);
  const verifier = randomToken();
  const state = randomToken(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  location.assign(
    authorizationUrl({
      authorizationEndpoint: discovery.authorization_endpoint,
      clientId: oidc.clientId,
      redirectUri: redirectUri(),
      state,
      challenge: await codeChallenge(verifier),
    }),
  );
}

/**
 * On the way back from the issuer (`?code=…`): checks the state, trades the code for tokens and
 * keeps the token; undefined when this page load is not such an answer.
 */
export async function completeOidcSignIn(oidc: ConsoleConfig['oidc']): Promise<Credential | undefined> {
  if (!oidc || !/[?&](code|error)=/.test(location.search)) return undefined;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as {
    verifier: string;
    state: string;
    hash: string;
  } | null;
  sessionStorage.removeItem(PENDING);
  const search = location.search;
  // The code is single-use and must not stay in the address bar or history.
  history.replaceState(null, '', `${location.pathname}${pending?.hash ?? ''}`);
  const code = authorizationCode(search, pending?.state ?? null);
  const discovery = await discover(oidc.issuer);
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri(),
      client_id: oidc.clientId,
      code_verifier: pending?.verifier ?? '',
    }),
  });
  if (!response.ok) throw new SignInError(`The issuer refused the code (${response.status})`);
  // The API takes access tokens only (an ID token grants nothing at an API, and is refused).
  const { access_token: token } = (await response.json()) as { access_token?: string };
  if (!token) throw new SignInError('The issuer returned no access token');
  const credential: Credential = { kind: 'bearer', value: token };
  saveCredential(credential);
  return credential;
}
