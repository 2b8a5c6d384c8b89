import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { eventually } from '../helpers/eventually.js';
import {
  type ApiClient,
  type ApiResponse,
  apiClient,
  QUICK_WORKER_STACK,
  startTestStack,
} from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';

/**
 * A claimed task answers only to the key that claimed it and the workerId it claimed as, over HTTP
 * on the whole local stack with two Worker keys. A claimed step without a heartbeat fails after 6 s.
 */

let stack: LocalStack;
let admin: ApiClient;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack(QUICK_WORKER_STACK);
  admin = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** A new key with `roles` (and `pools`, if given), and a client calling with it. */
async function keyWith(name: string, roles: string[] = ['Worker'], pools?: string[]) {
  const created = await admin.post('/api-keys', { name: `${name}-${counter}`, roles, pools });
  expect(created.status).toBe(201);
  return {
    id: created.body.id as string,
    key: created.body.key as string,
    api: apiClient(stack, created.body.key),
  };
}

/** Runs a schedule of `count` parallel steps on `pool` (one of its own by default); returns the execution id and pool. */
async function run(count = 1, chosenPool?: string) {
  counter += 1;
  const pool = chosenPool ?? `claims-${counter}`;
  const schedule = await admin.post('/schedules', {
    name: `Claims ${counter}`,
    triggerType: 'Manual',
    steps: Array.from({ length: count }, (_, i) => ({
      name: `step ${i}`,
      stepType: 'Executable',
      executablePath: '/bin/true',
      executionMode: i === 0 ? 'Sequential' : 'ParallelWithPrevious',
      timeoutSeconds: 300,
      workerPool: pool,
    })),
  });
  expect(schedule.status).toBe(201);
  const started = await admin.post(`/schedules/${schedule.body.id}/run`);
  expect(started.status).toBe(202);
  return { executionId: started.body.executionId as string, pool };
}

const execution = async (id: string) => (await admin.get(`/schedule-executions/${id}`)).body;
const settled = (id: string) =>
  eventually(
    () => execution(id),
    (e) => ['Completed', 'Failed', 'Cancelled'].includes(e.status),
    30_000,
    200,
  );

function expectForbidden(response: ApiResponse) {
  expect(response.status).toBe(403);
  expect(response.body).toEqual({
    code: 'FORBIDDEN',
    message: expect.stringMatching(/claimed by another worker/),
    timestamp: expect.any(String),
  });
}

const beat = (api: ApiClient, taskId: string, body: Record<string, unknown>) =>
  api.post(`/worker/tasks/${taskId}/heartbeat`, body);
const complete = (api: ApiClient, taskId: string, body: Record<string, unknown>) =>
  api.post(`/worker/tasks/${taskId}/complete`, body);

describe('worker tasks bound to their claimant', () => {
  it("refuses another key, another workerId and an Administrator, and the claimant's execution goes on", async () => {
    // Arrange
    const [keyA, keyB, adminWorker] = await Promise.all([
      keyWith('worker-a'),
      keyWith('worker-b'),
      keyWith('admin-worker', ['Administrator', 'Worker']),
    ]);
    const { executionId, pool } = await run();
    const a = new TestWorker(keyA.api, 'host-a');
    const [task] = await a.claim({ pools: [pool] });
    const taskId = task?.taskId as string;

    // Act: everyone but the claimant, on heartbeat and complete.
    const refused = [
      await beat(keyB.api, taskId, { workerId: 'host-b' }),
      await complete(keyB.api, taskId, { workerId: 'host-b', activityStatus: 'FailedWithError' }),
      await complete(keyB.api, taskId, { workerId: 'host-a', activityStatus: 'FailedWithError' }),
      await complete(keyB.api, taskId, { activityStatus: 'FailedWithError' }),
      await beat(keyA.api, taskId, { workerId: 'host-b' }),
      await complete(keyA.api, taskId, { workerId: 'host-b', activityStatus: 'FailedWithError' }),
      await beat(adminWorker.api, taskId, {}),
      await complete(adminWorker.api, taskId, { activityStatus: 'FailedWithError' }),
    ];
    const stillRunning = await execution(executionId);
    const claimantBeat = await a.heartbeat(taskId);
    const first = await a.complete(taskId, 'CompleteWithWarning');
    const again = await a.complete(taskId, 'CompleteWithWarning');
    const done = await settled(executionId);

    // Assert
    for (const response of refused) expectForbidden(response);
    expect(stillRunning.steps[0].status).toBe('Processing');
    expect(claimantBeat).toEqual({ cancellationRequested: false });
    expect(first).toMatchObject({
      status: 200,
      body: { accepted: true, stepStatus: 'Completed with Warning' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(done.status).toBe('Completed');
    expect(done.steps[0]).toMatchObject({
      status: 'Completed with Warning',
      activityStatus: 'CompleteWithWarning',
    });
    expect(await a.heartbeat(taskId)).toEqual({ cancellationRequested: true });
    expectForbidden(await beat(keyB.api, taskId, { workerId: 'host-b' }));
    expectForbidden(await complete(keyB.api, taskId, { workerId: 'host-b', activityStatus: 'Complete' }));
    expect((await execution(executionId)).steps[0].status).toBe('Completed with Warning');
  });

  it("takes only the claimant's outcome when its complete and another key's race, 50 times over", async () => {
    // Arrange: one stage of 50 steps, claimed one at a time so none waits long for its outcome.
    const trials = 50;
    const [keyA, keyB] = await Promise.all([keyWith('race-a'), keyWith('race-b')]);
    const { executionId, pool } = await run(trials);
    const a = new TestWorker(keyA.api, 'race-host-a');
    a.pools = [pool];
    const answers: { a: number; b: number; bCode: string; accepted: boolean }[] = [];

    // Act
    for (let trial = 0; trial < trials; trial += 1) {
      const [task] = await a.claimAtLeast(1);
      const taskId = task?.taskId as string;
      const [fromA, fromB] = await Promise.all([
        a.complete(taskId, 'Complete'),
        complete(keyB.api, taskId, { workerId: a.workerId, activityStatus: 'FailedWithError' }),
      ]);
      answers.push({
        a: fromA.status,
        b: fromB.status,
        bCode: fromB.body.code,
        accepted: fromA.body.accepted,
      });
    }
    const done = await settled(executionId);

    // Assert
    expect(answers).toEqual(Array(trials).fill({ a: 200, b: 403, bCode: 'FORBIDDEN', accepted: true }));
    expect(done.status).toBe('Completed');
    expect(done.steps.map((step: { activityStatus: string }) => step.activityStatus)).toEqual(
      Array(trials).fill('Complete'),
    );
  }, 120_000);

  it("cuts a revoked key's worker off: 401 for it, 403 for a new key, and the step fails when its heartbeat lapses", async () => {
    // Arrange
    const [revoked, replacement] = await Promise.all([keyWith('revoked'), keyWith('replacement')]);
    const { executionId, pool } = await run();
    const worker = new TestWorker(revoked.api, 'host-revoked');
    const [task] = await worker.claim({ pools: [pool] });
    const taskId = task?.taskId as string;
    expect((await admin.delete(`/api-keys/${revoked.id}`)).status).toBe(204);

    // Act
    const fromRevoked = await complete(revoked.api, taskId, {
      workerId: worker.workerId,
      activityStatus: 'Complete',
    });
    const fromReplacement = await complete(replacement.api, taskId, {
      workerId: worker.workerId,
      activityStatus: 'Complete',
    });
    const done = await settled(executionId);

    // Assert
    expect(fromRevoked.status).toBe(401);
    expect(fromRevoked.body.code).toBe('UNAUTHORISED');
    expectForbidden(fromReplacement);
    expect(done.status).toBe('Failed');
    expect(done.steps[0].errorMessage).toMatch(/heartbeat/i);
  });
});

describe('claims bound to the pools of their key', () => {
  it("answers 403 to a key claiming a pool it may not serve, over the authorizer's context, and lets it claim its own", async () => {
    // Arrange
    const { executionId, pool } = await run();
    const other = `${pool}-other`;
    const scoped = await keyWith('scoped', ['Worker'], [pool]);
    const worker = new TestWorker(scoped.api, 'host-scoped');

    // Act
    const listed = (await admin.get('/api-keys?pageSize=100')).body.items.find(
      (key: { id: string }) => key.id === scoped.id,
    );
    const refused = await scoped.api.post('/worker/tasks/claim', {
      workerId: 'host-scoped',
      pools: [pool, other],
    });
    const [task] = await worker.claim({ pools: [pool] });

    // Assert
    expect(listed.pools).toEqual([pool]);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      code: 'FORBIDDEN',
      message: expect.stringContaining(other),
      timestamp: expect.any(String),
    });
    expect(task?.executionId).toBe(executionId);
  });
});

describe('a claim whose answer is lost', () => {
  it('gives the same task again to the retried claim with the same requestId', async () => {
    // Arrange: a long poll on an empty pool, dropped by the worker before the task arrives.
    const key = await keyWith('lost-answer');
    const pool = `lost-${counter}`;
    const body = { workerId: 'host-lost', pools: [pool], waitSeconds: 3, requestId: `request-${counter}` };
    const dropped = new AbortController();
    const lost = fetch(`${stack.apiUrl}/worker/tasks/claim`, {
      method: 'POST',
      headers: { 'X-Api-Key': key.key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: dropped.signal,
    }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    dropped.abort();
    const { executionId } = await run(1, pool);
    await eventually(
      () => execution(executionId),
      (e) => e.steps[0].status === 'Processing',
      10_000,
      100,
    );

    // Act
    const retried = await key.api.post('/worker/tasks/claim', { ...body, waitSeconds: 0 });

    // Assert
    expect(await lost).toMatchObject({ name: 'AbortError' });
    expect(retried.status).toBe(200);
    expect(retried.body.tasks.map((task: { executionId: string }) => task.executionId)).toEqual([
      executionId,
    ]);
    const worker = new TestWorker(key.api, 'host-lost');
    expect(await worker.heartbeat(retried.body.tasks[0].taskId)).toEqual({ cancellationRequested: false });
  });
});
