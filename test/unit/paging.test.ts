import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.js';
import { envelope, PageTokens, pageInMemory } from '../../core/paging.js';

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
  const key = { m: '2026-01-01T00:00:00.000Z#e1' };
  const tokens = new PageTokens(async () => ['the-key']);

  /** A token as a forger would make it: any payload, signed with a key of their own. */
  const forged = (payload: unknown, signingKey = 'not-the-key') => {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${createHmac('sha256', signingKey).update(body).digest('base64url')}`;
  };
  const refusal = { validationErrors: { nextToken: [expect.any(String)] } };

  it('round-trips the page and the store position for the same query', async () => {
    // Arrange
    const token = await tokens.issue(query, 3, key);

    // Act
    const read = await tokens.read(token, { ...query });

    // Assert
    expect(read).toEqual({ page: 3, key });
  });

  it('issues URL-safe tokens', async () => {
    expect(await tokens.issue(query, 2, key)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it.each([
    { change: 'scheduleId', other: { ...query, scheduleId: '6f1c2d3e-0000-4000-8000-000000000001' } },
    { change: 'sortBy', other: { ...query, sortBy: 'status' } },
    { change: 'sortDescending', other: { ...query, sortDescending: false } },
    { change: 'pageSize', other: { ...query, pageSize: 50 } },
  ])('refuses a token naming nextToken when $change differs', async ({ other }) => {
    // Arrange
    const token = await tokens.issue(query, 2, key);

    // Act
    const attempt = tokens.read(token, other);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({
      validationErrors: { nextToken: [expect.stringMatching(/different query/)] },
    });
  });

  it.each([
    { what: 'not base64 JSON', token: () => 'not-a-token' },
    { what: 'unsigned', token: async () => (await tokens.issue(query, 2, key)).split('.')[0] as string },
    { what: 'signed twice', token: async () => `${await tokens.issue(query, 2, key)}.x` },
    { what: 'bit-flipped in its payload', token: async () => flip(await tokens.issue(query, 2, key), 3) },
    { what: 'bit-flipped in its signature', token: async () => flip(await tokens.issue(query, 2, key), -3) },
    { what: 'signed by another key', token: () => forged({ q: 'x', p: 2, k: key }) },
    {
      what: 'signed by another key with an empty position',
      token: () => forged({ q: 'x', p: 2, k: { m: '' } }),
    },
    {
      what: 'signed by another key with a 2 KB position',
      token: () => forged({ q: 'x', p: 2, k: { m: 'k'.repeat(2048) } }),
    },
  ])('refuses a token that is $what, naming nextToken', async ({ token }) => {
    const attempt = tokens.read(await token(), query);
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject(refusal);
  });

  it('accepts a token signed by the previous key after a rotation, and signs with the new one', async () => {
    // Arrange
    const before = await new PageTokens(async () => ['old']).issue(query, 2, key);
    const rotated = new PageTokens(async () => ['new', 'old']);

    // Act
    const read = await rotated.read(before, query);
    const issued = await rotated.issue(query, 2, key);

    // Assert
    expect(read).toEqual({ page: 2, key });
    await expect(new PageTokens(async () => ['old']).read(issued, query)).rejects.toMatchObject(refusal);
    expect(await new PageTokens(async () => ['new']).read(issued, query)).toEqual({ page: 2, key });
  });

  it('loads its keys once, and again after a load failed', async () => {
    // Arrange
    let loads = 0;
    const flaky = new PageTokens(async () => {
      loads += 1;
      if (loads === 1) throw new Error('secret unavailable');
      return ['the-key'];
    });

    // Act
    await expect(flaky.issue(query, 2, key)).rejects.toThrow('secret unavailable');
    const token = await flaky.issue(query, 2, key);
    await flaky.read(token, query);

    // Assert
    expect(loads).toBe(2);
  });

  it('signs with a key of its own when ephemeral', async () => {
    const token = await PageTokens.ephemeral().issue(query, 2, key);
    await expect(PageTokens.ephemeral().read(token, query)).rejects.toMatchObject(refusal);
  });
});

/** The token with one bit of the character at `at` changed (staying in the base64url alphabet). */
function flip(token: string, at: number): string {
  const i = at < 0 ? token.length + at : at;
  const c = token[i] as string;
  return `${token.slice(0, i)}${c === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
}
