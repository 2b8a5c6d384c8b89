import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authorizationCode,
  authorizationUrl,
  codeChallenge,
  randomToken,
  SignInError,
} from '../../../console/src/pkce.js';

describe('console PKCE sign-in helpers', () => {
  it.each(['dBjftJeZ4CVP-mB92K1uhHgBXdzFt6y9Yn0Q0JXh4ZQ', randomToken(), randomToken(96)])(
    'derives BASE64URL(SHA-256) of verifier %s, as node:crypto computes it',
    async (verifier) => {
      const expected = createHash('sha256').update(verifier).digest('base64url');

      expect(await codeChallenge(verifier)).toBe(expected);
    },
  );

  it('makes verifiers of 43 base64url characters, different each time', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => randomToken()));

    expect(tokens.size).toBe(50);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('asks for a code with the S256 challenge, the state and the redirect URI', () => {
    const url = new URL(
      authorizationUrl({
        authorizationEndpoint: 'https://login.example.com/authorize?tenant=ops',
        clientId: 'console',
        redirectUri: 'https://console.example.com/',
        state: 'st4te',
        challenge: 'ch4llenge',
      }),
    );

    expect(url.origin + url.pathname).toBe('https://login.example.com/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      tenant: 'ops',
      response_type: 'code',
      client_id: 'console',
      redirect_uri: 'https://console.example.com/',
      scope: 'openid profile',
      state: 'st4te',
      code_challenge: 'ch4llenge',
      code_challenge_method: 'S256',
    });
  });

  it('takes the code of an answer whose state is the one sent', () => {
    expect(authorizationCode('?code=abc&state=s1', 's1')).toBe('abc');
  });

  it.each([
    ['another state', '?code=abc&state=s2', 's1', /does not match/],
    ['no request pending', '?code=abc&state=s1', null, /does not match/],
    ['no code', '?state=s1', 's1', /without an authorization code/],
    [
      'the issuer refused',
      '?error=access_denied&error_description=Nope&state=s1',
      's1',
      /refused sign-in: Nope/,
    ],
  ])('refuses an answer with %s', (_, search, expected, message) => {
    expect(() => authorizationCode(search, expected)).toThrow(SignInError);
    expect(() => authorizationCode(search, expected)).toThrow(message);
  });
});
