import { describe, expect, it } from 'vitest';
import { readCredential } from '../../../core/auth/credentials.js';

describe('readCredential', () => {
  it('reads an API key whatever the header case', () => {
    expect(readCredential({ 'x-api-key': 'sek_1' })).toEqual({ kind: 'apiKey', key: 'sek_1' });
    expect(readCredential({ 'X-API-KEY': 'sek_1' })).toEqual({ kind: 'apiKey', key: 'sek_1' });
  });

  it.each(['Bearer abc.def.ghi', 'bearer abc.def.ghi', 'BEARER   abc.def.ghi ', 'Bearer\tabc.def.ghi'])(
    'reads the token of %j',
    (authorization) => {
      expect(readCredential({ Authorization: authorization })).toEqual({
        kind: 'bearer',
        token: 'abc.def.ghi',
      });
    },
  );

  it.each([
    ['no headers', null, 'no credentials'],
    ['no credential headers', { Accept: 'application/json' }, 'no credentials'],
    ['another scheme only', { Authorization: 'Basic dXNlcjpwYXNz' }, 'no credentials'],
    ['a Bearer header without a token', { Authorization: 'Bearer' }, 'a malformed Bearer header'],
    ['a Bearer header with two tokens', { Authorization: 'Bearer a b' }, 'a malformed Bearer header'],
    [
      'both an API key and a Bearer token',
      { 'X-Api-Key': 'sek_1', Authorization: 'Bearer abc' },
      'both an API key and a Bearer token',
    ],
  ])('finds no credential in %s', (_, headers, reason) => {
    expect(readCredential(headers)).toEqual({ kind: 'none', reason });
  });

  it('keeps the API key when a proxy adds an Authorization header of another scheme', () => {
    expect(readCredential({ 'X-Api-Key': 'sek_1', Authorization: 'Basic dXNlcjpwYXNz' })).toEqual({
      kind: 'apiKey',
      key: 'sek_1',
    });
  });
});
