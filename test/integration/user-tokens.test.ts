import { base64url, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ROLES_CLAIM, type OidcSettings } from '../../core/auth/oidc-settings.js';
import { type TokenRefusal, UserTokenVerifier } from '../../core/auth/user-tokens.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

let provider: TestOidcProvider;

beforeAll(async () => {
  provider = await startOidcProvider();
});

afterAll(async () => {
  await provider?.stop();
});

/** A verifier of the test provider's tokens, and the refusals it reported. */
function verifier(settings: Partial<OidcSettings> = {}, now?: Date) {
  const refusals: TokenRefusal[] = [];
  const tokens = new UserTokenVerifier(
    { issuer: provider.issuer, audience: provider.audience, rolesClaim: DEFAULT_ROLES_CLAIM, ...settings },
    { onRefused: (refusal) => refusals.push(refusal), ...(now ? { clock: { now: () => now } } : {}) },
  );
  return { tokens, refusals };
}

// The offsets keep 15 s away from the 30 s tolerance: the claims are stamped before signing and
// discovery, so a second boundary passing in between (one did under CI load) must not change the answer.
const epoch = (offsetSeconds: number) => Math.floor(Date.now() / 1000) + offsetSeconds;

describe('UserTokenVerifier', () => {
  it('returns a User principal with the subject, display name and known roles of a valid token', async () => {
    const { tokens, refusals } = verifier();
    const token = await provider.sign({ sub: 'u-42', name: 'Ada Lovelace', roles: ['Administrator'] });

    const principal = await tokens.authenticate(token);

    expect(principal).toEqual({ type: 'User', id: 'u-42', name: 'Ada Lovelace', roles: ['Administrator'] });
    expect(refusals).toEqual([]);
  });

  it('discovers the key set from the issuer once and keeps it for later tokens', async () => {
    const { tokens } = verifier();
    const before = provider.requests.length;

    for (let i = 0; i < 3; i++) expect(await tokens.authenticate(await provider.sign())).toBeDefined();

    expect(provider.requests.slice(before)).toEqual(['/.well-known/openid-configuration', '/jwks']);
  });

  it('uses the configured key set without discovery', async () => {
    const { tokens } = verifier({ jwksUri: provider.jwksUri });
    const before = provider.requests.length;

    expect(await tokens.authenticate(await provider.sign())).toBeDefined();

    expect(provider.requests.slice(before)).toEqual(['/jwks']);
  });

  it.each<[string, JWTPayload]>([
    ['another issuer', { iss: 'https://login.example.com' }],
    ['another audience', { aud: 'another-app' }],
    ['an expiry past the clock tolerance', { exp: epoch(-45) }],
    ['a not-before past the clock tolerance', { nbf: epoch(45) }],
    ['no expiry', { exp: undefined }],
    ['no subject', { sub: undefined }],
  ])('refuses a token with %s', async (_, claims) => {
    const { tokens, refusals } = verifier();

    expect(await tokens.authenticate(await provider.sign(claims))).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token' })]);
  });

  it.each<[string, string | undefined]>([
    ['an RFC 9068 access token type', 'at+jwt'],
    ['the media type form, in capitals', 'application/AT+JWT'],
    ['the generic JWT type', 'JWT'],
    ['no type', undefined],
  ])('accepts %s', async (_, typ) => {
    const { tokens, refusals } = verifier();

    expect(await tokens.authenticate(await provider.sign({}, { typ }))).toBeDefined();

    expect(refusals).toEqual([]);
  });

  it.each<[string, JWTPayload, string | undefined]>([
    ['typed as another kind of token', {}, 'id_token+jwt'],
    ['typed as a logout token', {}, 'logout+jwt'],
    ['with a nonce (an ID token)', { nonce: 'n-0S6_WzA2Mj' }, 'JWT'],
    ['with an at_hash (an ID token)', { at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }, 'JWT'],
    ['with a c_hash (an ID token)', { c_hash: 'LDktKdoQak3Pk0cnXxCltA' }, undefined],
  ])('refuses a token %s', async (_, claims, typ) => {
    const { tokens, refusals } = verifier();

    expect(await tokens.authenticate(await provider.sign(claims, { typ }))).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token', code: 'ERR_JWT_NOT_ACCESS_TOKEN' })]);
  });

  it('accepts a token whose azp is the audience, when no client ids are configured', async () => {
    const { tokens } = verifier();

    expect(await tokens.authenticate(await provider.sign({ azp: provider.audience }))).toBeDefined();
  });

  it('accepts a token whose azp is one of the configured client ids', async () => {
    const { tokens } = verifier({ clientIds: ['spa', 'cli'] });

    expect(await tokens.authenticate(await provider.sign({ azp: 'cli' }))).toBeDefined();
  });

  it.each<[string, Partial<OidcSettings>, unknown]>([
    ['another client than the audience', {}, 'another-app'],
    ['a client not configured', { clientIds: ['spa'] }, 'another-app'],
    ['the audience, when client ids are configured', { clientIds: ['spa'] }, 'schedule-service'],
    ['no string', {}, ['schedule-service']],
  ])('refuses a token whose azp names %s', async (_, settings, azp) => {
    const { tokens, refusals } = verifier(settings);

    expect(await tokens.authenticate(await provider.sign({ azp }))).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token', code: 'ERR_JWT_UNKNOWN_CLIENT' })]);
  });

  it('accepts a token expired or not yet valid by less than the clock tolerance', async () => {
    const { tokens } = verifier();

    expect(await tokens.authenticate(await provider.sign({ exp: epoch(-15) }))).toBeDefined();
    expect(await tokens.authenticate(await provider.sign({ nbf: epoch(15) }))).toBeDefined();
  });

  it('checks expiry against the injected clock', async () => {
    const token = await provider.sign({ exp: epoch(3600) });

    expect(
      await verifier({}, new Date(Date.now() + 2 * 3600_000)).tokens.authenticate(token),
    ).toBeUndefined();
    expect(await verifier({}, new Date()).tokens.authenticate(token)).toBeDefined();
  });

  it('refuses a token signed by another key under the same key id', async () => {
    const { tokens, refusals } = verifier();
    const { privateKey } = await generateKeyPair('RS256');

    expect(await tokens.authenticate(await provider.sign({}, { key: privateKey }))).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token' })]);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const { tokens, refusals } = verifier();
    const part = (value: object) => base64url.encode(JSON.stringify(value));
    const claims = { iss: provider.issuer, aud: provider.audience, sub: 'u-1', exp: epoch(600) };
    const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, roles: ['Administrator'] })}.`;

    expect(await tokens.authenticate(unsigned)).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token' })]);
  });

  it('refuses a token signed with a shared secret (HS256)', async () => {
    const { tokens, refusals } = verifier();
    const secret = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!');
    const token = await new SignJWT({ roles: ['Administrator'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'test-key' })
      .setIssuer(provider.issuer)
      .setAudience(provider.audience)
      .setSubject('u-1')
      .setExpirationTime('10m')
      .sign(secret);

    expect(await tokens.authenticate(token)).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token', code: 'ERR_JOSE_ALG_NOT_ALLOWED' })]);
  });

  it('refuses what is not a JWT at all', async () => {
    const { tokens, refusals } = verifier();

    expect(await tokens.authenticate('not-a-token')).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'token' })]);
  });

  it('accepts ES256 tokens', async () => {
    const es256 = await startOidcProvider('ES256');
    try {
      const tokens = new UserTokenVerifier({
        issuer: es256.issuer,
        audience: es256.audience,
        rolesClaim: DEFAULT_ROLES_CLAIM,
      });
      expect(await tokens.authenticate(await es256.sign({ roles: ['Worker'] }))).toMatchObject({
        roles: ['Worker'],
      });
    } finally {
      await es256.stop();
    }
  });

  it.each<[string, string, unknown, string[]]>([
    ['an array', 'roles', ['Administrator', 'Worker'], ['Administrator', 'Worker']],
    ['a space-separated string', 'roles', 'Worker Administrator', ['Worker', 'Administrator']],
    ['a comma-separated string', 'roles', 'Administrator, Worker', ['Administrator', 'Worker']],
    ['absent', 'roles', undefined, []],
    ['unknown values among known ones', 'roles', ['admin', 'Administrator', 7, 'Reader'], ['Administrator']],
    ['repeated values', 'roles', ['Worker', 'Worker'], ['Worker']],
    ['not a list', 'roles', { Administrator: true }, []],
    ['another claim name', 'groups', ['Administrator'], ['Administrator']],
    ['a namespaced claim with dots', 'https://example.com/roles', ['Worker'], ['Worker']],
  ])('reads roles given as %s', async (_, rolesClaim, value, expected) => {
    const { tokens } = verifier({ rolesClaim });

    const principal = await tokens.authenticate(await provider.sign({ [rolesClaim]: value }));

    expect(principal?.roles).toEqual(expected);
  });

  it('reads roles from a nested claim by its dotted path', async () => {
    const { tokens } = verifier({ rolesClaim: 'realm_access.roles' });

    const token = await provider.sign({ realm_access: { roles: ['offline_access', 'Administrator'] } });

    expect((await tokens.authenticate(token))?.roles).toEqual(['Administrator']);
  });

  it.each<[JWTPayload, string]>([
    [{ name: 'Ada', preferred_username: 'ada', email: 'ada@example.com' }, 'Ada'],
    [{ name: ' ', preferred_username: 'ada', email: 'ada@example.com' }, 'ada'],
    [{ email: 'ada@example.com' }, 'ada@example.com'],
    [{}, 'user-1'],
  ])('takes the display name from %j as %s', async (claims, name) => {
    const { tokens } = verifier();

    expect((await tokens.authenticate(await provider.sign(claims)))?.name).toBe(name);
  });

  it('refuses every token, reporting the keys, when the key set cannot be fetched', async () => {
    const { tokens, refusals } = verifier({ jwksUri: `${provider.issuer}/no-such-keys` });

    expect(await tokens.authenticate(await provider.sign())).toBeUndefined();

    expect(refusals).toEqual([expect.objectContaining({ cause: 'keys' })]);
  });

  it('refuses, reporting the keys, when the issuer is unreachable, and tries discovery again', async () => {
    const gone = await startOidcProvider();
    const token = await gone.sign();
    await gone.stop();
    const refusals: TokenRefusal[] = [];
    const tokens = new UserTokenVerifier(
      { issuer: gone.issuer, audience: gone.audience, rolesClaim: DEFAULT_ROLES_CLAIM },
      { onRefused: (refusal) => refusals.push(refusal) },
    );

    expect(await tokens.authenticate(token)).toBeUndefined();
    expect(await tokens.authenticate(token)).toBeUndefined();

    expect(refusals.map((r) => r.cause)).toEqual(['keys', 'keys']);
  });

  it('refuses a discovery document naming another issuer', async () => {
    // The provider's document names it as `http://127.0.0.1:<port>`; configure the same server as localhost.
    const issuer = provider.issuer.replace('127.0.0.1', 'localhost');
    const { tokens, refusals } = verifier({ issuer });

    expect(await tokens.authenticate(await provider.sign({ iss: issuer }))).toBeUndefined();

    expect(refusals).toEqual([
      expect.objectContaining({ cause: 'keys', message: expect.stringContaining('names the issuer') }),
    ]);
  });

  it('refuses, reporting the keys, a discovery document naming an http key set', async () => {
    const plain = await startOidcProvider('RS256', { jwksUri: 'http://keys.example.com/jwks' });
    try {
      const refusals: TokenRefusal[] = [];
      const tokens = new UserTokenVerifier(
        { issuer: plain.issuer, audience: plain.audience, rolesClaim: DEFAULT_ROLES_CLAIM },
        { onRefused: (refusal) => refusals.push(refusal) },
      );

      expect(await tokens.authenticate(await plain.sign())).toBeUndefined();

      expect(refusals).toEqual([
        expect.objectContaining({ cause: 'keys', message: expect.stringContaining('must be an https URL') }),
      ]);
      expect(plain.requests).toEqual(['/.well-known/openid-configuration']);
    } finally {
      await plain.stop();
    }
  });

  it('never puts the token in what it reports', async () => {
    const { tokens, refusals } = verifier();
    const token = await provider.sign({ aud: 'another-app' });

    await tokens.authenticate(token);

    expect(JSON.stringify(refusals)).not.toContain(token.split('.')[1]);
  });
});
