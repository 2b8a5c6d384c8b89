import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import { ValidationError } from '../../core/errors.js';
import { ExecutionStatus, type InitiatedByType } from '../../core/model.js';
import type { Execution, ListExecutionsQuery } from '../../core/schemas/execution.js';
import { createServices, type Services } from '../../core/services/index.js';
import { freshTables } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { executionRecord, executionsQuery, MINUTE, scheduleInput, TestClock } from './fixtures.js';

const BASE = Date.parse('2026-03-01T00:00:00.000Z');
const TYPES: InitiatedByType[] = ['ApiKey', 'User', 'NotSet'];
/** Where each execution ends up, reached through the store's transitions (so the counters move as in use). */
const PATHS: ExecutionStatus[][] = [
  [],
  ['InProgress'],
  ['InProgress', 'Paused'],
  ['InProgress', 'Completed'],
  ['InProgress', 'Failed'],
  ['Cancelled'],
];

const at = (i: number) => new Date(BASE + i * MINUTE).toISOString();

const query = (overrides: Partial<ListExecutionsQuery> = {}) => executionsQuery(4, overrides);

describe('ExecutionService.list filters over 40 executions of two schedules', () => {
  let services: Services;
  let store: DynamoExecutionStore;
  let narrowStore: DynamoExecutionStore;
  let known: Execution[];
  let alpha: string;
  let bravo: string;

  beforeAll(async () => {
    // Arrange: 40 executions a minute apart, of two schedules, three initiator types and six statuses,
    // in no pattern shared by any two of them; each created Queued and moved to its status.
    const { tables, client } = await freshTables();
    services = createServices(client, tables, {
      clock: new TestClock(new Date(BASE)),
      workflow: new RecordingWorkflow(),
    });
    store = new DynamoExecutionStore(client, tables);
    narrowStore = new DynamoExecutionStore(client, tables, undefined, 5);
    const schedules = new DynamoScheduleStore(client, tables.schedules);
    alpha = (await services.schedules.create(scheduleInput({ name: 'Alpha', overlapPolicy: 'AllowAll' }))).id;
    bravo = (await services.schedules.create(scheduleInput({ name: 'Bravo', overlapPolicy: 'AllowAll' }))).id;
    known = [];
    for (let i = 0; i < 40; i++) {
      const scheduleId = i % 4 === 0 ? bravo : alpha;
      const type = TYPES[i % 3] as InitiatedByType;
      let execution = executionRecord(i, {
        scheduleId,
        scheduleName: scheduleId === alpha ? 'Alpha' : 'Bravo',
        queuedAt: at(i),
        initiatedByType: type,
        initiatedById: type === 'NotSet' ? null : `who-${i}`,
      });
      const { version } = (await schedules.get(scheduleId)) as { version: number };
      await store.create(execution, [], { version, lastRunTime: execution.queuedAt, exclusive: true });
      for (const status of PATHS[(i * 7) % PATHS.length] as ExecutionStatus[]) {
        const moved = await store.transition(execution, execution.status, {
          status,
          ...(status === 'InProgress' && !execution.startedAt ? { startedAt: at(i + 1) } : {}),
          ...(['Completed', 'Failed', 'Cancelled'].includes(status) ? { completedAt: at(i + 2) } : {}),
        });
        execution = moved as Execution;
      }
      known.push(execution);
    }
  }, 120_000);

  const expected = (q: ListExecutionsQuery) => {
    const matching = known.filter(
      (e) =>
        (!q.scheduleId || e.scheduleId === q.scheduleId) &&
        (!q.status || q.status.includes(e.status)) &&
        (!q.initiatedByType || e.initiatedByType === q.initiatedByType) &&
        (!q.from || e.queuedAt >= q.from) &&
        (!q.to || e.queuedAt <= q.to),
    );
    const key = (e: Execution) => (q.sortBy === 'status' ? `${e.status}#${e.queuedAt}` : e.queuedAt);
    matching.sort((a, b) => key(a).localeCompare(key(b)));
    if (q.sortDescending) matching.reverse();
    return matching.map((e) => e.id);
  };

  it('made a data set in which every filter selects some but not all', () => {
    for (const status of Object.values(ExecutionStatus)) {
      expect(known.filter((e) => e.status === status).length).toBeGreaterThan(2);
    }
    expect(known.filter((e) => e.scheduleId === bravo)).toHaveLength(10);
  });

  const FILTERS: { name: string; filter: () => Partial<ListExecutionsQuery> }[] = [
    { name: 'status=Failed', filter: () => ({ status: ['Failed'] }) },
    { name: 'status=Completed,Failed', filter: () => ({ status: ['Completed', 'Failed'] }) },
    { name: 'initiatedByType=ApiKey', filter: () => ({ initiatedByType: 'ApiKey' }) },
    { name: 'from/to', filter: () => ({ from: at(7), to: at(29) }) },
    { name: 'from only', filter: () => ({ from: at(31) }) },
    { name: 'to only', filter: () => ({ to: at(5) }) },
    { name: 'scheduleId + status', filter: () => ({ scheduleId: alpha, status: ['Queued', 'Paused'] }) },
    {
      name: 'scheduleId + initiatedByType + from',
      filter: () => ({ scheduleId: bravo, initiatedByType: 'User', from: at(3) }),
    },
    {
      name: 'status + initiatedByType + from/to',
      filter: () => ({
        status: ['Cancelled', 'Completed', 'InProgress'],
        initiatedByType: 'NotSet',
        from: at(2),
        to: at(38),
      }),
    },
  ];
  const SORTS = [
    { sortBy: 'queuedAt', sortDescending: true },
    { sortBy: 'queuedAt', sortDescending: false },
    { sortBy: 'status', sortDescending: true },
    { sortBy: 'status', sortDescending: false },
  ] as const;
  const CASES = FILTERS.flatMap((f) => SORTS.map((sort) => ({ ...f, ...sort })));

  it.each(CASES)(
    'pages $name by $sortBy (descending: $sortDescending) alike by number and by nextToken',
    async ({ filter, sortBy, sortDescending }) => {
      // Arrange
      const q = query({ ...filter(), sortBy, sortDescending });
      const want = expected(q);
      expect(want.length).toBeGreaterThan(0);

      // Act
      const byNumber: string[] = [];
      for (let page = 1; page <= Math.ceil(want.length / 4); page++) {
        const result = await services.executions.list({ ...q, page });
        expect(result.totalCount).toBe(want.length);
        byNumber.push(...result.items.map((e) => e.id));
      }
      const byToken: string[] = [];
      let result = await services.executions.list(q);
      for (;;) {
        expect(result.totalCount).toBe(want.length);
        byToken.push(...result.items.map((e) => e.id));
        if (!result.nextToken) break;
        result = await services.executions.list({ ...q, nextToken: result.nextToken });
      }

      // Assert
      expect(byNumber).toEqual(want);
      expect(byToken).toEqual(want);
      expect(result.hasNextPage).toBe(false);
    },
  );

  it('returns the filtered executions as stored', async () => {
    const page = await services.executions.list(query({ status: ['Failed'], pageSize: 100 }));

    expect(page.items).toEqual(known.filter((e) => e.status === 'Failed').reverse());
  });

  it('answers a page past the end of a filter with no items and the true totalCount', async () => {
    // Arrange
    const q = query({ scheduleId: bravo, status: ['Failed', 'Completed'], pageSize: 20 });

    // Act
    const result = await services.executions.list({ ...q, page: 999 });

    // Assert
    expect(result).toEqual({
      items: [],
      totalCount: expected(q).length,
      page: 999,
      pageSize: 20,
      totalPages: 1,
      hasNextPage: false,
      hasPreviousPage: true,
    });
  });

  it('refuses a token issued for another filter', async () => {
    const { nextToken } = await services.executions.list(query({ status: ['Queued'] }));

    await expect(services.executions.list(query({ status: ['Failed'], nextToken }))).rejects.toMatchObject({
      validationErrors: { nextToken: [expect.stringMatching(/different query/)] },
    });
  });

  it.each(['startedAt', 'completedAt'] as const)(
    'refuses sortBy=%s with a filter it has no index for, naming sortBy',
    async (sortBy) => {
      const attempt = services.executions.list(query({ status: ['Failed'], sortBy }));

      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toMatchObject({ validationErrors: { sortBy: [expect.any(String)] } });
    },
  );

  it('counts a range up to its cap and refuses one wider, naming from and to', async () => {
    // Act: this store counts ranges of at most 5.
    const within = await narrowStore.count({ from: at(0), to: at(4) });
    const beyond = narrowStore.count({ from: at(0), to: at(5) });

    // Assert
    expect(within).toBe(5);
    await expect(beyond).rejects.toMatchObject({
      validationErrors: { from: [expect.stringMatching(/more than 5/)], to: [expect.any(String)] },
    });
  });

  it('moves an execution between the status counts as its status changes, and forgets it', async () => {
    // Arrange
    const execution = known.find((e) => e.status === 'Queued' && e.scheduleId === alpha) as Execution;
    const before = await store.count({ statuses: ['Queued'] });
    const beforeInAlpha = await store.count({ scheduleId: alpha, statuses: ['Queued'] });
    const cancelledBefore = await store.count({ statuses: ['Cancelled'] });

    // Act
    const cancelled = (await store.cancel(execution, 'Queued', {
      completedAt: at(50),
      cancelledById: null,
      cancelledByName: null,
    })) as Execution;
    const afterCancel = await store.count({ statuses: ['Queued'] });
    const cancelledAfter = await store.count({ statuses: ['Cancelled'] });
    await store.forget(cancelled, true);

    // Assert
    expect(afterCancel).toBe(before - 1);
    expect(await store.count({ scheduleId: alpha, statuses: ['Queued'] })).toBe(beforeInAlpha - 1);
    expect(cancelledAfter).toBe(cancelledBefore + 1);
    expect(await store.count({ statuses: ['Cancelled'] })).toBe(cancelledBefore);
    expect(await store.count({})).toBe(39);
  });
});
