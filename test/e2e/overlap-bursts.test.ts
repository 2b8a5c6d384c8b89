import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type ApiClient, apiClient, startTestStack } from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';

/**
 * Bursts of concurrent `POST /schedules/{id}/run` over HTTP against the whole local stack: the
 * overlap policy alone decides which runs start, however many arrive at once. Each schedule has one
 * Executable step in a pool of its own, run by a test worker, so executions finish as fast as the
 * state machine moves them.
 */

let stack: LocalStack;
let admin: ApiClient;
let worker: TestWorker;
let counter = 0;

beforeAll(async () => {
  // No reconciler: every run starts its state machine itself, and listing hundreds of active
  // executions each second would only slow the bursts down.
  stack = await startTestStack({ waitSeconds: 1, reconcileEveryMs: 0 });
  admin = apiClient(stack);
  const key = await admin.post('/api-keys', { name: 'burst-worker', roles: ['Worker'] });
  worker = new TestWorker(apiClient(stack, key.body.key));
});

afterAll(async () => {
  await stack?.stop();
});

const FINISHED = ['Completed', 'Failed', 'Cancelled'];

async function scheduleWith(overlapPolicy: string) {
  counter += 1;
  // Each schedule has a pool of its own, so the worker claims only that schedule's tasks.
  const pool = `burst-${counter}`;
  worker.pools = [pool];
  const schedule = await admin.post('/schedules', {
    name: `Burst ${counter} ${overlapPolicy}`,
    triggerType: 'Manual',
    overlapPolicy,
    steps: [{ name: 'true', stepType: 'Executable', executablePath: '/bin/true', workerPool: pool }],
  });
  expect(schedule.status).toBe(201);
  return { id: schedule.body.id as string, pool };
}

/** `count` runs of the schedule sent at once; their answers, in no particular order. */
const burst = (scheduleId: string, count: number) =>
  Promise.all(Array.from({ length: count }, () => admin.post(`/schedules/${scheduleId}/run`)));

const statusCounts = (responses: { status: number }[]) => {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
};

/** Every execution of the schedule (following pages), id → status. */
async function statusesOf(scheduleId: string): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  for (let page = 1; ; page++) {
    const response = await admin.get(
      `/schedule-executions?scheduleId=${scheduleId}&pageSize=100&page=${page}`,
    );
    expect(response.status).toBe(200);
    for (const e of response.body.items) statuses.set(e.id, e.status);
    if (response.body.items.length < 100) return statuses;
  }
}

/**
 * Claims (several claims at once, 20 tasks each) and completes the pool's tasks until every listed
 * execution has finished. The pool is named, not taken from the worker, so a test that timed out
 * cannot go on to claim the next test's tasks.
 */
async function driveToEnd(schedule: { id: string; pool: string }, ids: string[], ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const claims = await Promise.all(
      Array.from({ length: 4 }, () => worker.claim({ pools: [schedule.pool], maxTasks: 20, waitSeconds: 1 })),
    );
    const tasks = claims.flat();
    await Promise.all(tasks.map((task) => worker.complete(task.taskId)));
    if (tasks.length > 0) continue;
    // Nothing left to claim: look whether all have finished (or are still on their way to a worker).
    const statuses = await statusesOf(schedule.id);
    if (ids.every((id) => FINISHED.includes(statuses.get(id) ?? ''))) return statuses;
    if (Date.now() > deadline) {
      const open = ids.filter((id) => !FINISHED.includes(statuses.get(id) ?? ''));
      throw new Error(`${open.length} of ${ids.length} executions still open after ${ms} ms`);
    }
  }
}

describe('a burst of runs of an AllowAll schedule', () => {
  // 200 executions through the local state machine engine: about 40 s here on a quiet machine, twice
  // that when other suites share its two cores.
  it.each([40, 200])('accepts all %i and completes every one', { timeout: 150_000 }, async (count) => {
    // Arrange
    const schedule = await scheduleWith('AllowAll');

    // Act
    const responses = await burst(schedule.id, count);

    // Assert
    expect(statusCounts(responses)).toEqual({ 202: count });
    const ids = responses.map((r) => r.body.executionId as string);
    expect(new Set(ids).size).toBe(count);
    const statuses = await driveToEnd(schedule, ids, 120_000);
    expect(ids.filter((id) => statuses.get(id) === 'Completed')).toHaveLength(count);
    expect(statuses.size).toBe(count);
  });
});

describe('bursts of runs under the exact policies', () => {
  const ROUNDS = 3;

  it('Skip accepts exactly one of 20, each round, and refuses the rest naming it', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // Arrange
      const schedule = await scheduleWith('Skip');

      // Act
      const responses = await burst(schedule.id, 20);

      // Assert
      expect(statusCounts(responses)).toEqual({ 202: 1, 409: 19 });
      const accepted = responses.find((r) => r.status === 202)?.body.executionId;
      for (const r of responses.filter((r) => r.status === 409)) {
        expect(r.body.details.activeExecutionId).toBe(accepted);
      }
      expect([...(await statusesOf(schedule.id)).keys()]).toEqual([accepted]);
    }
  });

  it('BufferOne accepts exactly two of 10 (one runs, one waits Queued), each round', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // Arrange
      const schedule = await scheduleWith('BufferOne');

      // Act
      const responses = await burst(schedule.id, 10);

      // Assert
      expect(statusCounts(responses)).toEqual({ 202: 2, 409: 8 });
      const ids = responses.filter((r) => r.status === 202).map((r) => r.body.executionId as string);
      const [task] = await worker.claimAtLeast(1, 15_000);
      const running = task?.executionId as string;
      expect(ids).toContain(running);
      const waiting = ids.find((id) => id !== running) as string;
      expect((await admin.get(`/schedule-executions/${waiting}`)).body.status).toBe('Queued');
      await worker.complete(task?.taskId as string);
      const statuses = await driveToEnd(schedule, ids, 30_000);
      expect([statuses.get(running), statuses.get(waiting)]).toEqual(['Completed', 'Completed']);
      expect(statuses.size).toBe(2);
    }
  });

  it('CancelOther leaves exactly one survivor of 20, each round, and cancels every other', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // Arrange
      const schedule = await scheduleWith('CancelOther');

      // Act
      const responses = await burst(schedule.id, 20);

      // Assert
      expect(statusCounts(responses)).toEqual({ 202: 20 });
      const ids = responses.map((r) => r.body.executionId as string);
      // Each run cancelled what was active when it was recorded: once all are answered, one is left.
      const answered = await statusesOf(schedule.id);
      const survivors = ids.filter((id) => answered.get(id) !== 'Cancelled');
      expect(survivors).toHaveLength(1);
      expect(['Queued', 'InProgress']).toContain(answered.get(survivors[0] as string));
      const statuses = await driveToEnd(schedule, ids, 30_000);
      expect(ids.filter((id) => statuses.get(id) !== 'Cancelled')).toEqual(survivors);
      expect(statuses.get(survivors[0] as string)).toBe('Completed');
      expect(statuses.size).toBe(20);
    }
  });
});
