import { describe, expect, it } from 'vitest';
import {
  OidcSettingsError,
  oidcEnvironment,
  oidcSettingsFromEnv,
  parseOidcSettings,
} from '../../../core/auth/oidc-settings.js';

const names = {
  issuer: 'iss-key',
  audience: 'aud-key',
  rolesClaim: 'roles-key',
  jwksUri: 'jwks-key',
  clientIds: 'clients-key',
};
const strict = { names, allowLoopbackHttp: false };

describe('parseOidcSettings', () => {
  it('is off (undefined) when nothing is set, empty strings included', () => {
    expect(parseOidcSettings({}, strict)).toBeUndefined();
    expect(parseOidcSettings({ issuer: '', audience: '' }, strict)).toBeUndefined();
  });

  it('defaults the roles claim and leaves the key set to discovery', () => {
    expect(parseOidcSettings({ issuer: 'https://login.example.com/', audience: 'api' }, strict)).toEqual({
      issuer: 'https://login.example.com/',
      audience: 'api',
      rolesClaim: 'roles',
    });
  });

  it('keeps every setting given', () => {
    const settings = {
      issuer: 'https://login.example.com',
      audience: 'api',
      rolesClaim: 'groups',
      jwksUri: 'https://login.example.com/keys',
      clientIds: ['spa', 'cli'],
    };
    expect(parseOidcSettings(settings, strict)).toEqual(settings);
  });

  it('reads client ids separated by commas', () => {
    expect(
      parseOidcSettings(
        { issuer: 'https://login.example.com', audience: 'api', clientIds: 'spa, cli,' },
        strict,
      ),
    ).toMatchObject({ clientIds: ['spa', 'cli'] });
  });

  it.each([
    [
      'an http issuer',
      { issuer: 'http://login.example.com', audience: 'api' },
      /iss-key must be an https URL/,
    ],
    ['an issuer that is no URL', { issuer: 'login.example.com', audience: 'api' }, /iss-key must be a URL/],
    ['no audience', { issuer: 'https://login.example.com' }, /aud-key is required/],
    ['a numeric audience', { issuer: 'https://login.example.com', audience: 7 }, /aud-key is required/],
    [
      'an http key set',
      { issuer: 'https://login.example.com', audience: 'api', jwksUri: 'http://login.example.com/keys' },
      /jwks-key must be an https URL/,
    ],
    [
      'client ids that name none',
      { issuer: 'https://login.example.com', audience: 'api', clientIds: ' , ' },
      /clients-key must name at least one client id/,
    ],
    [
      'client ids that are not strings',
      { issuer: 'https://login.example.com', audience: 'api', clientIds: 7 },
      /clients-key must be client ids separated by commas/,
    ],
    [
      'settings without an issuer',
      { audience: 'api', rolesClaim: 'groups' },
      /aud-key, roles-key set without iss-key/,
    ],
  ])('refuses %s, naming the setting', (_, raw, message) => {
    expect(() => parseOidcSettings(raw, strict)).toThrow(OidcSettingsError);
    expect(() => parseOidcSettings(raw, strict)).toThrow(message);
  });

  it('allows http to a loopback host only where asked', () => {
    const local = { issuer: 'http://localhost:8080/realms/dev', audience: 'api' };
    expect(() => parseOidcSettings(local, strict)).toThrow(OidcSettingsError);
    expect(parseOidcSettings(local, { names, allowLoopbackHttp: true })).toMatchObject(local);
    expect(() =>
      parseOidcSettings(
        { issuer: 'http://login.example.com', audience: 'api' },
        { names, allowLoopbackHttp: true },
      ),
    ).toThrow(/http only to localhost/);
  });
});

describe('oidcSettingsFromEnv', () => {
  it('reads back what oidcEnvironment writes', () => {
    const settings = { issuer: 'https://login.example.com', audience: 'api', rolesClaim: 'groups' };
    expect(oidcSettingsFromEnv(oidcEnvironment(settings))).toEqual(settings);
    const withKeys = { ...settings, jwksUri: 'https://login.example.com/keys', clientIds: ['spa', 'cli'] };
    expect(oidcSettingsFromEnv(oidcEnvironment(withKeys))).toEqual(withKeys);
  });

  it('names the environment variable at fault', () => {
    expect(() => oidcSettingsFromEnv({ OIDC_ISSUER: 'https://login.example.com' })).toThrow(/^OIDC_AUDIENCE/);
  });

  it('is off without OIDC_ISSUER', () => {
    expect(oidcSettingsFromEnv({})).toBeUndefined();
  });
});
