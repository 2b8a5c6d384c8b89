import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError } from './errors.js';

/**
 * Paging rules shared by every list: 1-based pages, the response envelope, and `nextToken`, an
 * opaque cursor signed by the service and bound to the query that issued it (so it cannot be forged,
 * nor replayed against another filter).
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
  /** Store-specific position (e.g. the index key a page ended on). */
  k: Record<string, unknown>;
}

const fingerprint = (query: Record<string, unknown>): string =>
  createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 16);

/** A refused token names the field, as every other invalid parameter does. */
export const refusedPageToken = (message = 'Not a token this API issued: start again from page 1') =>
  new ValidationError({ nextToken: [message] });

/**
 * The signing keys, the one that signs first: the others (the key before a rotation) still verify,
 * so tokens handed out just before a rotation keep working.
 */
export type PageTokenKeys = readonly [string, ...string[]];

/**
 * Issues and reads `nextToken`s, signed with a key only the service holds (HMAC-SHA256 over the
 * payload). The payload names a store position that the store turns into a DynamoDB key condition;
 * a forged one (an empty or 2 KB key, another schedule's key) would reach DynamoDB and fail there as
 * a 500. So a token is trusted only once its signature is: anything else is refused before any read.
 * The keys are loaded on first use (in Lambda: once per cold start) and reloaded after a failure.
 */
export class PageTokens {
  private keys: Promise<Buffer[]> | undefined;

  constructor(private readonly load: () => Promise<PageTokenKeys>) {}

  /** A signer with a random key of its own: tokens live as long as the process (tests, `npm start` without a data directory). */
  static ephemeral(): PageTokens {
    const key = randomBytes(32).toString('base64url');
    return new PageTokens(async () => [key]);
  }

  private signingKeys(): Promise<Buffer[]> {
    this.keys ??= this.load().then(
      (keys) => keys.map((key) => Buffer.from(key, 'utf8')),
      (error: unknown) => {
        this.keys = undefined;
        throw error;
      },
    );
    return this.keys;
  }

  async issue(query: Record<string, unknown>, page: number, key: Record<string, unknown>): Promise<string> {
    const [signing] = await this.signingKeys();
    const payload: TokenPayload = { q: fingerprint(query), p: page, k: key };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${mac(signing as Buffer, body).toString('base64url')}`;
  }

  async read(
    token: string,
    query: Record<string, unknown>,
  ): Promise<{ page: number; key: Record<string, unknown> }> {
    const [body = '', signature = '', ...rest] = token.split('.');
    const given = Buffer.from(signature, 'base64url');
    const keys = await this.signingKeys();
    // Constant time, so the signature cannot be found a byte at a time.
    const signed = keys.some((key) => {
      const expected = mac(key, body);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (rest.length > 0 || !signed) throw refusedPageToken();
    // Signed by this service, so the payload is one `issue` wrote: its shape needs no second guess.
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenPayload;
    if (payload.q !== fingerprint(query)) {
      throw refusedPageToken('Belongs to a different query: keep the same filters, sort and pageSize');
    }
    return { page: payload.p, key: payload.k };
  }
}

const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest();
