import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../core/errors.js';
import { decodePageToken, encodePageToken, envelope, pageInMemory } from '../../core/paging.js';

describe('envelope', () => {
  it.each([
    { totalCount: 0, page: 1, pageSize: 20, totalPages: 0, hasNextPage: false, hasPreviousPage: false },
    { totalCount: 1, page: 1, pageSize: 20, totalPages: 1, hasNextPage: false, hasPreviousPage: false },
    { totalCount: 20, page: 1, pageSize: 20, totalPages: 1, hasNextPage: false, hasPreviousPage: false },
    { totalCount: 21, page: 1, pageSize: 20, totalPages: 2, hasNextPage: true, hasPreviousPage: false },
    { totalCount: 45, page: 2, pageSize: 20, totalPages: 3, hasNextPage: true, hasPreviousPage: true },
    { totalCount: 45, page: 3, pageSize: 20, totalPages: 3, hasNextPage: false, hasPreviousPage: true },
    { totalCount: 45, page: 9, pageSize: 20, totalPages: 3, hasNextPage: false, hasPreviousPage: true },
    { totalCount: 100, page: 100, pageSize: 1, totalPages: 100, hasNextPage: false, hasPreviousPage: true },
    { totalCount: 101, page: 1, pageSize: 100, totalPages: 2, hasNextPage: true, hasPreviousPage: false },
  ])(
    'reports page $page of $totalCount items by $pageSize as $totalPages page(s), next $hasNextPage, previous $hasPreviousPage',
    ({ totalCount, page, pageSize, totalPages, hasNextPage, hasPreviousPage }) => {
      // Act
      const result = envelope([], totalCount, page, pageSize);

      // Assert
      expect(result).toEqual({
        items: [],
        totalCount,
        page,
        pageSize,
        totalPages,
        hasNextPage,
        hasPreviousPage,
      });
    },
  );

  it('includes nextToken when there is a next page', () => {
    expect(envelope(['a'], 2, 1, 1, 'token').nextToken).toBe('token');
  });

  it('leaves nextToken out on the last page even when the store offered one', () => {
    expect(envelope(['a', 'b'], 2, 1, 2, 'token')).not.toHaveProperty('nextToken');
  });
});

describe('pageInMemory', () => {
  const letters = 'abcdefghijklmnopqrstuvw'.split(''); // 23 items

  it.each([
    { page: 1, pageSize: 10, items: 'abcdefghij' },
    { page: 2, pageSize: 10, items: 'klmnopqrst' },
    { page: 3, pageSize: 10, items: 'uvw' },
    { page: 4, pageSize: 10, items: '' },
    { page: 23, pageSize: 1, items: 'w' },
  ])('returns items "$items" for page $page by $pageSize', ({ page, pageSize, items }) => {
    // Act
    const result = pageInMemory(letters, page, pageSize);

    // Assert
    expect(result.items.join('')).toBe(items);
    expect(result.totalCount).toBe(23);
    expect(result.totalPages).toBe(Math.ceil(23 / pageSize));
  });

  it('returns no items but the true totalCount for a page past the end', () => {
    // Act
    const result = pageInMemory(letters, 50, 20);

    // Assert
    expect(result).toEqual({
      items: [],
      totalCount: 23,
      page: 50,
      pageSize: 20,
      totalPages: 2,
      hasNextPage: false,
      hasPreviousPage: true,
    });
  });

  it('pages an empty list as zero pages', () => {
    expect(pageInMemory([], 1, 20)).toMatchObject({
      items: [],
      totalCount: 0,
      totalPages: 0,
      hasNextPage: false,
    });
  });
});

describe('page tokens', () => {
  const query = { scheduleId: null, sortBy: 'queuedAt', sortDescending: true, pageSize: 20 };
  const key = { id: 'e1', allPk: 'EXECUTION', kQueued: '2026-01-01T00:00:00.000Z#e1' };

  const payloadOf = (token: string) => JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  const tokenOf = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString('base64url');

  it('round-trips the page and the store key for the same query', () => {
    // Arrange
    const token = encodePageToken(query, 3, key);

    // Act
    const decoded = decodePageToken(token, { ...query });

    // Assert
    expect(decoded).toEqual({ page: 3, key });
  });

  it('issues URL-safe tokens', () => {
    expect(encodePageToken(query, 2, key)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    { change: 'scheduleId', other: { ...query, scheduleId: '6f1c2d3e-0000-4000-8000-000000000001' } },
    { change: 'sortBy', other: { ...query, sortBy: 'status' } },
    { change: 'sortDescending', other: { ...query, sortDescending: false } },
    { change: 'pageSize', other: { ...query, pageSize: 50 } },
  ])('refuses a token with BadRequestError when $change differs', ({ other }) => {
    // Arrange
    const token = encodePageToken(query, 2, key);

    // Act / Assert
    expect(() => decodePageToken(token, other)).toThrow(BadRequestError);
    expect(() => decodePageToken(token, other)).toThrow(/different query/);
  });

  it.each([
    { what: 'not base64 JSON', token: 'not-a-token' },
    { what: 'JSON null', token: tokenOf(null) },
    { what: 'a number', token: tokenOf(42) },
    { what: 'no page', token: tokenOf({ q: 'x', k: {} }) },
    { what: 'a string page', token: tokenOf({ q: 'x', p: '2', k: {} }) },
    { what: 'no key', token: tokenOf({ q: 'x', p: 2 }) },
    { what: 'a null key', token: tokenOf({ q: 'x', p: 2, k: null }) },
  ])('refuses a token that is $what with BadRequestError', ({ token }) => {
    expect(() => decodePageToken(token, query)).toThrow(BadRequestError);
  });

  it('refuses a token whose fingerprint was tampered with', () => {
    // Arrange
    const payload = payloadOf(encodePageToken(query, 2, key));
    const tampered = tokenOf({ ...payload, q: 'AAAAAAAAAAAAAAAA' });

    // Act / Assert
    expect(() => decodePageToken(tampered, query)).toThrow(BadRequestError);
  });

  // The page number in a token only ever comes from page + 1; anything else was edited by hand.
  it.each([0, -1, 1.5])('refuses a token edited to lead to page %s', (page) => {
    // Arrange
    const payload = payloadOf(encodePageToken(query, 2, key));
    const tampered = tokenOf({ ...payload, p: page });

    // Act / Assert
    expect(() => decodePageToken(tampered, query)).toThrow(BadRequestError);
  });
});
