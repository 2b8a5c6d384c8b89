import { createHmac } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import type { TableNames } from '../../core/adapters/dynamodb/tables.js';
import { ValidationError } from '../../core/errors.js';
import type { ExecutionStatus } from '../../core/model.js';
import { PageTokens } from '../../core/paging.js';
import type { Execution, ExecutionSortBy, ListExecutionsQuery } from '../../core/schemas/execution.js';
import { createServices, type Services } from '../../core/services/index.js';
import { freshTables, recordRequests, type SentRequest } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import {
  bothWays,
  canceller,
  executionsQuery,
  MINUTE,
  operator,
  scheduleInput,
  TestClock,
} from './fixtures.js';

/** What the test knows about each execution it made, to work out the expected orders. */
interface Known {
  id: string;
  scheduleId: string;
  status: ExecutionStatus;
  queuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

/**
 * The orders of the contract: by the field; a time not reached yet (null) after every date when
 * ascending and before them when descending; statuses by name; ties by queuedAt.
 */
function expectedOrder(known: readonly Known[], sortBy: ExecutionSortBy, descending: boolean): string[] {
  const key = (e: Known) => [e[sortBy] ?? '\uffff', e.queuedAt];
  const ascending = [...known].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) {
      if ((ka[i] as string) < (kb[i] as string)) return -1;
      if ((ka[i] as string) > (kb[i] as string)) return 1;
    }
    return 0;
  });
  return (descending ? ascending.reverse() : ascending).map((e) => e.id);
}

const query = (overrides: Partial<ListExecutionsQuery> = {}) => executionsQuery(20, overrides);

const SORTS = bothWays(['queuedAt', 'startedAt', 'completedAt', 'status'] as const);

describe('ExecutionService.list over 45 executions of two schedules', () => {
  const BASE = Date.parse('2026-01-10T00:00:00.000Z');
  let services: Services;
  let known: Known[];
  let alpha: string;
  let bravo: string;

  beforeAll(async () => {
    // Arrange: 25 runs of Alpha and 20 of Bravo interleaved, one a minute; every fourth cancelled later,
    // in the reverse order, so completedAt and status orders differ from queuedAt order.
    const { tables, client, config } = await freshTables();
    const own = createDocumentClient(config);
    signed = {
      services: createServices(own, tables, {
        workflow: new RecordingWorkflow(),
        pageTokens: new PageTokens(async () => ['the-key']),
      }),
      client: own,
      tables,
      sent: recordRequests(own),
    };
    const clock = new TestClock(new Date(BASE));
    services = createServices(client, tables, { clock: clock, workflow: new RecordingWorkflow() });
    alpha = (await services.schedules.create(scheduleInput({ name: 'Alpha', overlapPolicy: 'AllowAll' }))).id;
    bravo = (await services.schedules.create(scheduleInput({ name: 'Bravo', overlapPolicy: 'AllowAll' }))).id;
    known = [];
    for (let i = 0; i < 45; i++) {
      clock.set(new Date(BASE + i * MINUTE));
      const scheduleId = i % 9 < 5 ? alpha : bravo;
      const { executionId } = await services.schedules.run(scheduleId, operator);
      known.push({
        id: executionId,
        scheduleId,
        status: 'Queued',
        queuedAt: clock.now().toISOString(),
        startedAt: null,
        completedAt: null,
      });
    }
    for (const [i, execution] of known.entries()) {
      if (i % 4 !== 1) continue;
      clock.set(new Date(BASE + 3 * 24 * 60 * MINUTE - i * MINUTE));
      const cancelled = await services.executions.cancelActive(execution.id, canceller);
      Object.assign(execution, { status: cancelled.status, completedAt: cancelled.completedAt });
    }
  }, 120_000);

  /** Services over the same tables with a known signing key, and the DynamoDB requests they send. */
  let signed: { services: Services; client: DynamoDBDocumentClient; tables: TableNames; sent: SentRequest[] };

  const ofSchedule = (scheduleId?: string) => known.filter((e) => !scheduleId || e.scheduleId === scheduleId);

  it('made the data set it describes', () => {
    expect(ofSchedule(alpha)).toHaveLength(25);
    expect(ofSchedule(bravo)).toHaveLength(20);
    expect(known.filter((e) => e.status === 'Cancelled')).toHaveLength(11);
    expect(new Set(known.map((e) => e.queuedAt)).size).toBe(45);
  });

  it.each([
    { filter: 'all', scheduleId: () => undefined, totalCount: 45 },
    { filter: 'Alpha', scheduleId: () => alpha, totalCount: 25 },
    { filter: 'Bravo', scheduleId: () => bravo, totalCount: 20 },
  ])('counts $totalCount executions for $filter', async ({ scheduleId, totalCount }) => {
    const page = await services.executions.list(query({ scheduleId: scheduleId() }));

    expect(page.totalCount).toBe(totalCount);
  });

  it('lists newest first by queuedAt by default, as executions without steps', async () => {
    // Act
    const page = await services.executions.list(query());

    // Assert
    expect(page.items[0]).toMatchObject({ id: known[44]?.id, queuedAt: '2026-01-10T00:44:00.000Z' });
    expect(page.items[0]).not.toHaveProperty('steps');
    expect(page.items.map((e) => e.queuedAt)).toEqual(
      known
        .slice(25)
        .reverse()
        .map((e) => e.queuedAt),
    );
  });

  describe.each([
    { filter: 'all executions', scheduleId: () => undefined as string | undefined },
    { filter: 'the Alpha schedule', scheduleId: () => alpha as string | undefined },
  ])('pages of $filter', ({ scheduleId }) => {
    it.each(SORTS)(
      'pages by number in $sortBy order (descending: $sortDescending)',
      async ({ sortBy, sortDescending }) => {
        // Arrange
        const expected = expectedOrder(ofSchedule(scheduleId()), sortBy, sortDescending);
        const totalPages = Math.ceil(expected.length / 20);

        for (let page = 1; page <= totalPages; page++) {
          // Act
          const result = await services.executions.list(
            query({ scheduleId: scheduleId(), sortBy, sortDescending, page }),
          );

          // Assert
          expect(result.items.map((e) => e.id)).toEqual(expected.slice((page - 1) * 20, page * 20));
          expect(result).toMatchObject({
            totalCount: expected.length,
            page,
            pageSize: 20,
            totalPages,
            hasNextPage: page < totalPages,
            hasPreviousPage: page > 1,
          });
        }
      },
    );
  });

  it('returns the items of each execution as stored', async () => {
    // Act
    const page = await services.executions.list(
      query({ sortBy: 'completedAt', sortDescending: false, pageSize: 1 }),
    );

    // Assert: the first to complete was cancelled last, i.e. the 41st run.
    expect(page.items).toEqual([
      expect.objectContaining({
        id: known[41]?.id,
        scheduleId: known[41]?.scheduleId,
        scheduleName: known[41]?.scheduleId === alpha ? 'Alpha' : 'Bravo',
        status: 'Cancelled',
        completedAt: '2026-01-12T23:19:00.000Z',
        cancelledById: 'user-42',
      }),
    ]);
  });

  it.each([
    { what: 'all executions', scheduleId: () => undefined, page: 4, totalCount: 45, totalPages: 3 },
    {
      what: 'all executions, far past the end',
      scheduleId: () => undefined,
      page: 400,
      totalCount: 45,
      totalPages: 3,
    },
    { what: 'Bravo, one page past the end', scheduleId: () => bravo, page: 2, totalCount: 20, totalPages: 1 },
  ])(
    'returns no items and the true totalCount for a page past the end of $what',
    async ({ scheduleId, page, totalCount, totalPages }) => {
      // Act
      const result = await services.executions.list(query({ scheduleId: scheduleId(), page }));

      // Assert
      expect(result).toEqual({
        items: [],
        totalCount,
        page,
        pageSize: 20,
        totalPages,
        hasNextPage: false,
        hasPreviousPage: true,
      });
    },
  );

  describe('nextToken', () => {
    it.each([
      { sortBy: 'queuedAt', sortDescending: true, pageSize: 20, scheduleId: () => undefined },
      { sortBy: 'status', sortDescending: false, pageSize: 7, scheduleId: () => undefined },
      { sortBy: 'completedAt', sortDescending: true, pageSize: 15, scheduleId: () => undefined },
      { sortBy: 'startedAt', sortDescending: false, pageSize: 10, scheduleId: () => alpha },
      { sortBy: 'completedAt', sortDescending: false, pageSize: 4, scheduleId: () => bravo },
      { sortBy: 'queuedAt', sortDescending: false, pageSize: 100, scheduleId: () => undefined },
    ] as const)(
      'walks every page by $sortBy (descending: $sortDescending) by $pageSize, as page numbers do',
      async ({ sortBy, sortDescending, pageSize, scheduleId }) => {
        // Arrange
        const filters = { scheduleId: scheduleId(), sortBy, sortDescending, pageSize };
        const expected = expectedOrder(ofSchedule(scheduleId()), sortBy, sortDescending);
        const totalPages = Math.ceil(expected.length / pageSize);

        // Act
        const walked: string[] = [];
        const pages: number[] = [];
        let result = await services.executions.list(query(filters));
        for (;;) {
          walked.push(...result.items.map((e) => e.id));
          pages.push(result.page);
          const byNumber = await services.executions.list(query({ ...filters, page: result.page }));
          expect(result.items).toEqual(byNumber.items);
          expect({ ...result, nextToken: undefined }).toEqual({ ...byNumber, nextToken: undefined });
          if (!result.nextToken) break;
          result = await services.executions.list(query({ ...filters, nextToken: result.nextToken }));
        }

        // Assert
        expect(walked).toEqual(expected);
        expect(new Set(walked).size).toBe(walked.length);
        expect(pages).toEqual(Array.from({ length: totalPages }, (_, i) => i + 1));
        expect(result.hasNextPage).toBe(false);
      },
    );

    it.each([
      { change: 'scheduleId', other: () => ({ scheduleId: alpha }) },
      { change: 'sortBy', other: () => ({ sortBy: 'status' as const }) },
      { change: 'sortDescending', other: () => ({ sortDescending: false }) },
      { change: 'pageSize', other: () => ({ pageSize: 10 }) },
      { change: 'status', other: () => ({ status: ['Cancelled' as const] }) },
    ])(
      'refuses a genuine token naming nextToken, before any DynamoDB read, when $change differs from the query that issued it',
      async ({ other }) => {
        // Arrange
        const { nextToken } = await signed.services.executions.list(query());
        expect(nextToken).toBeDefined();
        signed.sent.length = 0;

        // Act
        const attempt = signed.services.executions.list(query({ ...other(), nextToken }));

        // Assert
        await expect(attempt).rejects.toBeInstanceOf(ValidationError);
        await expect(attempt).rejects.toMatchObject({
          validationErrors: { nextToken: [expect.any(String)] },
        });
        expect(signed.sent).toEqual([]);
      },
    );

    /** A token as the service would sign it, but with `key`: what a forger holding another key makes. */
    const forge = (payload: unknown, key: string) => {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
    };
    const payloadOf = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8'));

    it.each([
      { what: 'not a token at all', token: async () => 'bm90IGEgdG9rZW4' },
      {
        what: 'bit-flipped',
        token: async (genuine: string) =>
          `${genuine.slice(0, 5)}${genuine[5] === 'A' ? 'B' : 'A'}${genuine.slice(6)}`,
      },
      {
        what: 'an empty position',
        token: async (genuine: string) => forge({ ...payloadOf(genuine), k: { m: '' } }, 'another-key'),
      },
      {
        what: 'a 2 KB position',
        token: async (genuine: string) =>
          forge({ ...payloadOf(genuine), k: { m: 'k'.repeat(2048) } }, 'another-key'),
      },
      {
        what: "another schedule's position",
        token: async (genuine: string) =>
          forge({ ...payloadOf(genuine), k: { ...payloadOf(genuine).k, scheduleId: bravo } }, 'another-key'),
      },
      {
        what: 'signed by another key',
        token: async (genuine: string) => forge(payloadOf(genuine), 'another-key'),
      },
      {
        what: 'issued by another deployment',
        token: async () => {
          const other = createServices(signed.client, signed.tables, { workflow: new RecordingWorkflow() });
          return (await other.executions.list(query({ scheduleId: alpha }))).nextToken as string;
        },
      },
    ])('refuses a token that is $what naming nextToken, before any DynamoDB read', async ({ token }) => {
      // Arrange
      const genuine = (await signed.services.executions.list(query({ scheduleId: alpha })))
        .nextToken as string;
      const forged = await token(genuine);
      signed.sent.length = 0;

      // Act
      const attempt = signed.services.executions.list(query({ scheduleId: alpha, nextToken: forged }));

      // Assert
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toMatchObject({ validationErrors: { nextToken: [expect.any(String)] } });
      expect(signed.sent).toEqual([]);
    });

    it('refuses page and nextToken together with ValidationError', async () => {
      // Arrange
      const { nextToken } = await services.executions.list(query());

      // Act
      const attempt = services.executions.list(query({ page: 2, nextToken }));

      // Assert
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toMatchObject({ validationErrors: { nextToken: [expect.any(String)] } });
    });

    it('offers no nextToken on the last page, even when it is full', async () => {
      // Act: 45 by 15 is three full pages.
      const last = await services.executions.list(query({ pageSize: 15, page: 3 }));

      // Assert
      expect(last.items).toHaveLength(15);
      expect(last).not.toHaveProperty('nextToken');
    });
  });

  describe('page-number depth', () => {
    it.each([
      { page: 501, pageSize: 20 },
      { page: 101, pageSize: 100 },
      { page: 10_001, pageSize: 1 },
    ])('serves page $page by $pageSize (offset 10,000) by number', async ({ page, pageSize }) => {
      const result = await services.executions.list(query({ page, pageSize }));

      expect(result).toMatchObject({ items: [], totalCount: 45, page });
    });

    it.each([
      { page: 502, pageSize: 20 },
      { page: 102, pageSize: 100 },
      { page: 10_002, pageSize: 1 },
    ])(
      'serves page $page by $pageSize (beyond offset 10,000) past the end as empty, from the count alone',
      async ({ page, pageSize }) => {
        // Act
        const result = await services.executions.list(query({ page, pageSize }));

        // Assert
        expect(result).toMatchObject({ items: [], totalCount: 45, page, hasNextPage: false });
      },
    );
  });

  it('lists the 34 still queued as active, oldest first', async () => {
    // Act
    const active = await services.executions.listActive();

    // Assert
    expect(active.map((e) => e.id)).toEqual(known.filter((e) => e.status === 'Queued').map((e) => e.id));
    expect(active).toHaveLength(34);
  });
});

describe('ExecutionService.list with started, finished and paused executions', () => {
  let services: Services;
  let ids: string[];

  beforeAll(async () => {
    // Arrange: nothing in this service starts or finishes an execution yet, so write them through the store.
    const { tables, client } = await freshTables();
    services = createServices(client, tables, {
      clock: new TestClock('2026-02-01T09:00:00.000Z'),
      workflow: new RecordingWorkflow(),
    });
    const scheduleId = (await services.schedules.create(scheduleInput({ overlapPolicy: 'AllowAll' }))).id;
    const store = new DynamoExecutionStore(client, tables);
    const schedules = new DynamoScheduleStore(client, tables.schedules);
    const rows: [ExecutionStatus, string, string | null, string | null][] = [
      ['Completed', '10:00', '10:05', '10:30'],
      ['InProgress', '10:01', '10:02', null],
      ['Queued', '10:02', null, null],
      ['Failed', '10:03', '10:04', '10:06'],
      ['Paused', '10:04', '10:10', null],
    ];
    const at = (time: string | null) => (time ? `2026-02-01T${time}:00.000Z` : null);
    ids = [];
    for (const [n, [status, queuedAt, startedAt, completedAt]] of rows.entries()) {
      const id = `00000000-0000-4000-8000-00000000000${n}`;
      const execution: Execution = {
        id,
        scheduleId,
        scheduleName: 'Nightly HR sync',
        status,
        overlapPolicy: 'AllowAll',
        currentStepIndex: 0,
        totalSteps: 1,
        queuedAt: at(queuedAt) as string,
        startedAt: at(startedAt),
        completedAt: at(completedAt),
        initiatedByType: 'NotSet',
        initiatedById: null,
        initiatedByName: null,
        errorMessage: status === 'Failed' ? "Step 'Import HR' failed." : null,
        scheduledFor: at(queuedAt),
        cancelledById: null,
        cancelledByName: null,
        retryOfExecutionId: null,
        retriedByExecutionId: null,
      };
      const { version } = (await schedules.get(scheduleId)) as { version: number };
      await store.create(execution, [], { version, exclusive: true, lastRunTime: execution.queuedAt });
      ids.push(id);
    }
  });

  const order = (...positions: number[]) => positions.map((n) => ids[n]);

  it.each([
    { sortBy: 'startedAt', sortDescending: false, expected: [1, 3, 0, 4, 2] },
    { sortBy: 'startedAt', sortDescending: true, expected: [2, 4, 0, 3, 1] },
    { sortBy: 'completedAt', sortDescending: false, expected: [3, 0, 1, 2, 4] },
    { sortBy: 'completedAt', sortDescending: true, expected: [4, 2, 1, 0, 3] },
    { sortBy: 'status', sortDescending: false, expected: [0, 3, 1, 4, 2] },
    { sortBy: 'queuedAt', sortDescending: true, expected: [4, 3, 2, 1, 0] },
  ] as const)(
    'orders by $sortBy (descending: $sortDescending), unset times last ascending',
    async ({ sortBy, sortDescending, expected }) => {
      // Act
      const page = await services.executions.list(query({ sortBy, sortDescending }));

      // Assert
      expect(page.items.map((e) => e.id)).toEqual(order(...expected));
    },
  );

  it('counts InProgress and Paused executions as active, with Queued, oldest first', async () => {
    const active = await services.executions.listActive();

    expect(active.map((e) => [e.id, e.status])).toEqual([
      [ids[1], 'InProgress'],
      [ids[2], 'Queued'],
      [ids[4], 'Paused'],
    ]);
  });

  it('cancels an InProgress execution but refuses a Completed one with ConflictError', async () => {
    // Act
    const cancelled = await services.executions.cancelActive(ids[1] as string, canceller);
    const refused = services.executions.cancelActive(ids[0] as string, canceller);

    // Assert
    expect(cancelled).toMatchObject({ status: 'Cancelled', startedAt: '2026-02-01T10:02:00.000Z' });
    await expect(refused).rejects.toMatchObject({ code: 'CONFLICT', details: { status: 'Completed' } });
  });
});
