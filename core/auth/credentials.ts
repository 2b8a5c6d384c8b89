/**
 * Which credential a request carries: an API key (`X-Api-Key`) or a signed-in user's token
 * (`Authorization: Bearer`). A request with both is refused rather than one silently winning: the
 * two name different callers, and whichever the service picked, the other would be recorded nowhere
 * (`initiatedBy*`) while the client believed it had acted as it.
 */
export type Credential =
  | { readonly kind: 'apiKey'; readonly key: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'none'; readonly reason: string };

const header = (headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined =>
  Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1] ?? undefined;

// RFC 6750 section 2.1: the scheme is case-insensitive; a token is one run of non-space characters.
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The request's credential. An `Authorization` header with another scheme (e.g. Basic, added by a
 * proxy) is not a credential here and is ignored; a Bearer one without a token is refused.
 */
export function readCredential(headers: Readonly<Record<string, string | undefined>> | null): Credential {
  const apiKey = header(headers ?? {}, 'x-api-key');
  const authorization = header(headers ?? {}, 'authorization');
  const isBearer = authorization !== undefined && /^bearer(\s|$)/i.test(authorization);
  if (apiKey && isBearer) return { kind: 'none', reason: 'both an API key and a Bearer token' };
  if (apiKey) return { kind: 'apiKey', key: apiKey };
  if (!isBearer) return { kind: 'none', reason: 'no credentials' };
  const token = BEARER.exec(authorization)?.[1];
  return token ? { kind: 'bearer', token } : { kind: 'none', reason: 'a malformed Bearer header' };
}
