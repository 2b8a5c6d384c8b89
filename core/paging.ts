import { createHash } from 'node:crypto';
import { BadRequestError } from './errors.js';

/**
 * Paging rules shared by every list: 1-based pages, the response envelope, and `nextToken`, an
 * opaque cursor bound to the query that issued it (so it cannot be replayed against another filter).
 */

/** Deepest offset served by page number; deeper history is walked with `nextToken` at constant cost. */
export const MAX_PAGE_OFFSET = 10_000;

export interface PageEnvelope<T> {
  items: T[];
  totalCount: number;
  page: number;
  pageSize: number;
  totalPages: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  nextToken?: string;
}

export function envelope<T>(
  items: T[],
  totalCount: number,
  page: number,
  pageSize: number,
  nextToken?: string,
): PageEnvelope<T> {
  const totalPages = Math.ceil(totalCount / pageSize);
  const hasNextPage = page * pageSize < totalCount;
  return {
    items,
    totalCount,
    page,
    pageSize,
    totalPages,
    hasNextPage,
    hasPreviousPage: page > 1,
    ...(hasNextPage && nextToken ? { nextToken } : {}),
  };
}

/** Pages a list already held in memory (small collections: schedules, API keys). */
export function pageInMemory<T>(all: readonly T[], page: number, pageSize: number): PageEnvelope<T> {
  const start = (page - 1) * pageSize;
  return envelope(all.slice(start, start + pageSize), all.length, page, pageSize);
}

interface TokenPayload {
  /** Fingerprint of the query the token belongs to. */
  q: string;
  /** The page the token leads to. */
  p: number;
  /** Store-specific position (e.g. a DynamoDB LastEvaluatedKey). */
  k: Record<string, unknown>;
}

const fingerprint = (query: Record<string, unknown>): string =>
  createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 16);

export function encodePageToken(
  query: Record<string, unknown>,
  page: number,
  key: Record<string, unknown>,
): string {
  const payload: TokenPayload = { q: fingerprint(query), p: page, k: key };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

export function decodePageToken(
  token: string,
  query: Record<string, unknown>,
): { page: number; key: Record<string, unknown> } {
  let payload: Partial<TokenPayload>;
  try {
    payload = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new BadRequestError('nextToken is not a token this API issued.', { cause });
  }
  if (
    typeof payload !== 'object' ||
    payload === null ||
    // Tokens only ever lead forward, to page 2 or later.
    !Number.isSafeInteger(payload.p) ||
    (payload.p as number) < 2 ||
    typeof payload.k !== 'object' ||
    payload.k === null
  ) {
    throw new BadRequestError('nextToken is not a token this API issued.');
  }
  if (payload.q !== fingerprint(query)) {
    throw new BadRequestError(
      'nextToken belongs to a different query: keep the same filters, sort and pageSize.',
    );
  }
  return { page: payload.p as number, key: payload.k };
}
