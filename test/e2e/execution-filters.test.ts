import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { eventually } from '../helpers/eventually.js';
import { type ApiClient, apiClient, startTestStack } from '../helpers/local-api.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { rowsOf } from '../helpers/rows.js';
import { TestWorker } from '../helpers/test-worker.js';

/**
 * The list filters of GET /schedule-executions over HTTP, on executions that reached their statuses
 * the real way: run by an API key or a signed-in user, cancelled, or failed and completed by a worker.
 */

let provider: TestOidcProvider;
let stack: LocalStack;
let admin: ApiClient;
let known: any[];
let alpha: string;
let bravo: string;

/** Outcome of execution i; the ones left running come last, so their tasks never block the others'. */
const OUTCOMES = [
  'Failed',
  'Completed',
  'Cancelled',
  'Failed',
  'Completed',
  'Cancelled',
  'Failed',
  'InProgress',
  'InProgress',
];

beforeAll(async () => {
  provider = await startOidcProvider();
  stack = await startTestStack({
    tablePrefix: 'e2e-filters',
    waitSeconds: 1,
    oidc: { issuer: provider.issuer, audience: provider.audience, rolesClaim: 'groups' },
  });
  admin = apiClient(stack);
  const user = apiClient(stack, null, {
    Authorization: `Bearer ${await provider.sign({ sub: 'u-ada', name: 'Ada', groups: ['Administrator'] })}`,
  });
  const key = await admin.post('/api-keys', { name: 'filters-worker', roles: ['Worker'] });
  const worker = new TestWorker(apiClient(stack, key.body.key));
  worker.pools = ['filters'];
  const schedule = async (name: string) =>
    (
      await admin.post('/schedules', {
        name,
        triggerType: 'Manual',
        overlapPolicy: 'AllowAll',
        steps: [
          {
            name: 'only step',
            stepType: 'Executable',
            executablePath: '/bin/true',
            executionMode: 'Sequential',
            timeoutSeconds: 3600,
            workerPool: 'filters',
          },
        ],
      })
    ).body.id as string;
  alpha = await schedule('Filters alpha');
  bravo = await schedule('Filters bravo');

  // Arrange: one execution at a time, so the only task waiting in the pool is its own.
  known = [];
  for (const [i, outcome] of OUTCOMES.entries()) {
    const caller = i % 3 === 0 ? user : admin;
    const run = await caller.post(`/schedules/${i % 2 ? bravo : alpha}/run`);
    expect(run.status).toBe(202);
    const id = run.body.executionId as string;
    if (outcome === 'Cancelled') {
      expect((await admin.post(`/schedule-executions/${id}/cancel`)).status).toBe(200);
    } else if (outcome !== 'InProgress') {
      const [task] = await worker.claimAtLeast(1);
      expect(task?.executionId).toBe(id);
      await worker.complete(task?.taskId as string, outcome === 'Failed' ? 'FailedWithError' : 'Complete');
    }
    known.push(
      await eventually(
        async () => (await admin.get(`/schedule-executions/${id}`)).body,
        (e) => e.status === outcome,
      ),
    );
  }
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await provider?.stop();
});

/** Every item of a filtered list, walked by page number and by nextToken, with the totalCounts seen. */
async function walk(query: string) {
  const byNumber: string[] = [];
  const counts = new Set<number>();
  for (let page = 1; ; page++) {
    const response = await admin.get(`/schedule-executions?${query}&pageSize=2&page=${page}`);
    expect(response.status).toBe(200);
    counts.add(response.body.totalCount);
    byNumber.push(...response.body.items.map((e: any) => e.id));
    if (!response.body.hasNextPage) break;
  }
  const byToken: string[] = [];
  let token: string | undefined;
  do {
    const next = token ? `&nextToken=${encodeURIComponent(token)}` : '';
    const response = await admin.get(`/schedule-executions?${query}&pageSize=2${next}`);
    expect(response.status).toBe(200);
    counts.add(response.body.totalCount);
    byToken.push(...response.body.items.map((e: any) => e.id));
    token = response.body.nextToken;
  } while (token);
  return { byNumber, byToken, counts: [...counts] };
}

describe('GET /schedule-executions filters', () => {
  it('ran executions of every status the filters select', () => {
    expect(known.map((e) => e.status)).toEqual(OUTCOMES);
    expect(new Set(known.map((e) => e.initiatedByType))).toEqual(new Set(['ApiKey', 'User']));
  });

  const newestFirst = (chosen: any[]) =>
    [...chosen].sort((a, b) => b.queuedAt.localeCompare(a.queuedAt)).map((e) => e.id);

  it.each([
    { name: 'status=Failed', query: () => 'status=Failed', want: (e: any) => e.status === 'Failed' },
    {
      name: 'status=Completed,Failed',
      query: () => 'status=Completed,Failed',
      want: (e: any) => ['Completed', 'Failed'].includes(e.status),
    },
    {
      name: 'initiatedByType=ApiKey',
      query: () => 'initiatedByType=ApiKey',
      want: (e: any) => e.initiatedByType === 'ApiKey',
    },
    {
      name: 'from&to',
      query: () => `from=${known[2].queuedAt}&to=${known[6].queuedAt}`,
      want: (e: any) => e.queuedAt >= known[2].queuedAt && e.queuedAt <= known[6].queuedAt,
    },
    {
      name: 'scheduleId&status',
      query: () => `scheduleId=${bravo}&status=Failed,Cancelled,InProgress`,
      want: (e: any) => e.scheduleId === bravo && e.status !== 'Completed',
    },
    {
      name: 'scheduleId&initiatedByType&from',
      query: () => `scheduleId=${alpha}&initiatedByType=User&from=${known[1].queuedAt}`,
      want: (e: any) =>
        e.scheduleId === alpha && e.initiatedByType === 'User' && e.queuedAt >= known[1].queuedAt,
    },
    {
      name: 'status&initiatedByType&to',
      query: () => `status=Failed,InProgress&initiatedByType=ApiKey&to=${known[7].queuedAt}`,
      want: (e: any) =>
        ['Failed', 'InProgress'].includes(e.status) &&
        e.initiatedByType === 'ApiKey' &&
        e.queuedAt <= known[7].queuedAt,
    },
  ])('lists exactly the executions of ?$name, page by page and token by token', async ({ query, want }) => {
    // Arrange
    const expected = newestFirst(known.filter(want));
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(known.length);

    // Act
    const { byNumber, byToken, counts } = await walk(query());

    // Assert: no duplicates, no gaps, and a totalCount equal to what was seen.
    expect(byNumber).toEqual(expected);
    expect(byToken).toEqual(expected);
    expect(counts).toEqual([expected.length]);
  });

  it('sorts a filtered list by status, then queuedAt', async () => {
    // Act
    const { byToken } = await walk('status=Cancelled,Failed,Completed&sortBy=status&sortDescending=false');

    // Assert
    const expected = known
      .filter((e) => e.status !== 'InProgress')
      .sort((a, b) => `${a.status}#${a.queuedAt}`.localeCompare(`${b.status}#${b.queuedAt}`))
      .map((e) => e.id);
    expect(byToken).toEqual(expected);
  });

  it('answers a page past the end with 200, no items and the true totalCount', async () => {
    // Act
    const response = await admin.get(`/schedule-executions?scheduleId=${bravo}&page=999&pageSize=20`);

    // Assert
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      items: [],
      totalCount: known.filter((e) => e.scheduleId === bravo).length,
      page: 999,
      pageSize: 20,
      totalPages: 1,
      hasNextPage: false,
      hasPreviousPage: true,
    });
  });

  it.each(
    rowsOf('parameter', 'query', {
      status: ['status=Bogus', 'status=Failed,', 'status='],
      initiatedByType: ['initiatedByType=Robot'],
      from: ['from=yesterday', 'from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z'],
      to: ['to=2026-13-01T00:00:00Z'],
      sortBy: ['status=Failed&sortBy=startedAt'],
    }),
  )('answers ?$query with 400 VALIDATION_ERROR naming $parameter', async ({ query, parameter }) => {
    // Act
    const response = await admin.get(`/schedule-executions?${query}`);

    // Assert
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      code: 'VALIDATION_ERROR',
      validationErrors: { [parameter]: [expect.any(String)] },
    });
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.(ts|js):\d+/);
  });
});
