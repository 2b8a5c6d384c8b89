import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { eventually } from '../helpers/eventually.js';
import {
  type ApiClient,
  apiClient,
  executionOf,
  type RunStepSpec,
  runSchedule,
  settled as settledOn,
  startTestStack,
} from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';

/**
 * Executions run by the real state machine definition on the local engine, with a test worker over
 * HTTP. Short settings keep it quick: the state machine looks again after 1 s when it waits, a claimed
 * step without heartbeat fails after 3 s, and the reconciler runs every second.
 */

let stack: LocalStack;
let admin: ApiClient;
let worker: TestWorker;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack({ waitSeconds: 1, heartbeatTimeoutSeconds: 3, reconcileEveryMs: 1000 });
  admin = apiClient(stack);
  const key = await admin.post('/api-keys', { name: 'test-worker', roles: ['Worker'] });
  worker = new TestWorker(apiClient(stack, key.body.key));
});

afterAll(async () => {
  await stack?.stop();
});

/** Creates a schedule of Executable steps, in a pool of its own, and runs it. */
async function run(steps: RunStepSpec[], extra: Record<string, unknown> = {}) {
  counter += 1;
  // Each scenario has a pool of its own, so a task left by one can never be claimed by another.
  const pool = `pool-${counter}`;
  worker.pools = [pool];
  return runSchedule(admin, `Orchestration ${counter}`, pool, steps, extra);
}

const execution = (id: string) => executionOf(admin, id);
const settled = (id: string) => settledOn(admin, id);

/** Posts `action` on the execution as the admin and checks the answer: 200, the execution now `status`. */
async function answered200(id: string, action: 'cancel' | 'pause', status: string) {
  const answer = await admin.post(`/schedule-executions/${id}/${action}`);
  expect(answer.status).toBe(200);
  expect(answer.body.status).toBe(status);
}

/** Claims and completes one task at a time until the execution ends, with the given outcome per step name. */
async function drive(executionId: string, outcomes: Record<string, string> = {}) {
  for (;;) {
    const current = await execution(executionId);
    if (['Completed', 'Failed', 'Cancelled'].includes(current.status)) return current;
    const [task] = await worker.claim({ waitSeconds: 1 });
    if (task) await worker.complete(task.taskId, outcomes[task.step.name] ?? 'Complete');
  }
}

describe('running an execution', () => {
  it('runs sequential stages in order and completes', async () => {
    const { executionId } = await run([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const order: string[] = [];
    for (const expected of ['a', 'b', 'c']) {
      const [task] = await worker.claimAtLeast(1);
      order.push(task?.step.name as string);
      const during = await execution(executionId);
      expect(during.status).toBe('InProgress');
      expect(during.steps.find((s: any) => s.name === expected).status).toBe('Processing');
      expect((await worker.complete(task?.taskId as string)).body).toEqual({
        accepted: true,
        stepStatus: 'Completed',
      });
    }
    expect(order).toEqual(['a', 'b', 'c']);
    const done = await settled(executionId);
    // One RunSingleStep for the three: each completion handed its token on to the next step.
    expect(stack.statesEntered(executionId)).toEqual([
      'Advance',
      'Route',
      'RunSingleStep',
      'Route',
      'Finished',
    ]);
    expect(done).toMatchObject({
      status: 'Completed',
      currentStepIndex: 2,
      totalSteps: 3,
      errorMessage: null,
    });
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    for (const step of done.steps) {
      expect(step).toMatchObject({ status: 'Completed', activityStatus: 'Complete' });
      expect(step.taskId).not.toBeNull();
      expect(Date.parse(step.completedAt)).toBeGreaterThanOrEqual(Date.parse(step.startedAt));
    }
  });

  it('runs the steps of a stage at the same time', async () => {
    const { executionId } = await run([
      { name: 'import 1' },
      { name: 'import 2', mode: 'ParallelWithPrevious' },
      { name: 'import 3', mode: 'ParallelWithPrevious' },
      { name: 'sync' },
    ]);
    const stage = await worker.claimAtLeast(3);
    expect(stage.map((t) => t.step.name).sort()).toEqual(['import 1', 'import 2', 'import 3']);
    // All three are running at once, and the next stage has not started.
    const during = await execution(executionId);
    expect(during.steps.map((s: any) => s.status)).toEqual([
      'Processing',
      'Processing',
      'Processing',
      'Pending',
    ]);
    expect(await worker.claim({ waitSeconds: 1 })).toEqual([]);
    for (const task of stage) await worker.complete(task.taskId);
    const [sync] = await worker.claimAtLeast(1);
    expect(sync?.step.name).toBe('sync');
    await worker.complete(sync?.taskId as string);
    expect((await settled(executionId)).status).toBe('Completed');
    // The Map for the stage of three, then Advance; the stage of one is a RunSingleStep.
    expect(stack.statesEntered(executionId)).toEqual([
      ...['Advance', 'Route', 'RunStage', 'RunStep', 'RunStep', 'RunStep'],
      ...['Advance', 'Route', 'RunSingleStep', 'Route', 'Finished'],
    ]);
  });

  it('fails the execution on a failed step and cancels the later ones', async () => {
    const { executionId } = await run([
      { name: 'ok' },
      { name: 'breaks', mode: 'ParallelWithPrevious' },
      { name: 'later' },
    ]);
    const done = await drive(executionId, { breaks: 'FailedWithError' });
    expect(done.status).toBe('Failed');
    expect(done.errorMessage).toContain("'breaks' Failed");
    expect(done.steps.map((s: any) => s.status)).toEqual(['Completed', 'Failed', 'Cancelled']);
  });

  it('goes on past a failed step that has continueOnFailure', async () => {
    const { executionId } = await run([{ name: 'tolerated', continueOnFailure: true }, { name: 'after' }]);
    const done = await drive(executionId, { tolerated: 'FailedWithError' });
    expect(done.status).toBe('Completed');
    expect(done.steps.map((s: any) => s.status)).toEqual(['Failed', 'Completed']);
  });

  it.each([
    ['CompleteWithWarning', 'Completed with Warning', 'Completed'],
    ['CompleteWithError', 'Completed with Error', 'Failed'],
    ['Cancelled', 'Cancelled', 'Failed'],
  ])('maps activity %s to step %s and execution %s', async (activity, stepStatus, executionStatus) => {
    const { executionId } = await run([{ name: 'only' }, { name: 'next' }]);
    const done = await drive(executionId, { only: activity });
    expect(done.status).toBe(executionStatus);
    expect(done.steps[0]).toMatchObject({ status: stepStatus, activityStatus: activity });
  });

  it('runs a 14-step schedule in 9 stages', async () => {
    const S = 'Sequential' as const;
    const P = 'ParallelWithPrevious' as const;
    const modes = [S, P, P, S, S, P, S, S, P, S, S, P, S, S];
    const { executionId } = await run(modes.map((mode, i) => ({ name: `s${i}`, mode })));
    const done = await drive(executionId);
    expect(done).toMatchObject({ status: 'Completed', totalSteps: 9, currentStepIndex: 8 });
    expect(done.steps.map((s: any) => s.stepIndex)).toEqual([0, 0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8]);
    expect(done.steps.every((s: any) => s.status === 'Completed')).toBe(true);
  });

  it('accepts the same completion twice without effect', async () => {
    const { executionId } = await run([{ name: 'once' }]);
    const [task] = await worker.claimAtLeast(1);
    const first = await worker.complete(task?.taskId as string, 'CompleteWithWarning');
    const again = await worker.complete(task?.taskId as string, 'CompleteWithWarning');
    expect(first.body).toEqual({ accepted: true, stepStatus: 'Completed with Warning' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ accepted: true, stepStatus: 'Completed with Warning' });
    expect((await settled(executionId)).status).toBe('Completed');
  });
});

describe('timeouts and heartbeats', () => {
  it('fails a step that exceeds its timeout and tells its worker to stop', async () => {
    const { executionId } = await run([{ name: 'slow', timeoutSeconds: 2 }]);
    const [task] = await worker.claimAtLeast(1);
    const stop = await eventually(
      () => worker.heartbeat(task?.taskId as string),
      (beat) => beat.cancellationRequested,
      10_000,
      500,
    );
    expect(stop.cancellationRequested).toBe(true);
    const done = await settled(executionId);
    expect(done.status).toBe('Failed');
    expect(done.steps[0].status).toBe('Failed');
    expect(done.steps[0].errorMessage).toMatch(/^Timed out: .* timeout of 2 s/);
    // The worker's late report changes nothing.
    expect((await worker.complete(task?.taskId as string)).body.accepted).toBe(false);
  });

  it('counts timeoutSeconds from the claim: a step that waited longer unclaimed still completes', async () => {
    const { executionId } = await run([{ name: 'patient', timeoutSeconds: 2 }]);
    // No worker for twice the step's timeout (the reconciler keeps the waiting task alive).
    await new Promise((r) => setTimeout(r, 4_000));
    expect((await execution(executionId)).steps[0].status).toBe('Queued');
    const [task] = await worker.claimAtLeast(1);
    expect((await worker.heartbeat(task?.taskId as string)).cancellationRequested).toBe(false);
    expect((await worker.complete(task?.taskId as string)).body).toEqual({
      accepted: true,
      stepStatus: 'Completed',
    });
    expect((await settled(executionId)).status).toBe('Completed');
  });

  it('fails a step whose worker stops heartbeating', async () => {
    const { executionId } = await run([{ name: 'silent' }]);
    await worker.claimAtLeast(1);
    const done = await settled(executionId);
    expect(done.status).toBe('Failed');
    expect(done.steps[0].errorMessage).toMatch(/heartbeat/i);
  });

  it('fails a later step of a run of one-step stages whose worker stops heartbeating, not the first', async () => {
    // Arrange: the first step's completion hands the state machine's token on to the second.
    const { executionId } = await run([{ name: 'first' }, { name: 'silent' }, { name: 'never' }]);
    const [first] = await worker.claimAtLeast(1);
    await worker.complete(first?.taskId as string);

    // Act: the second is claimed, then nothing more is heard of it.
    const [silent] = await worker.claimAtLeast(1);
    const done = await settled(executionId);

    // Assert: the token's heartbeat timeout failed the step it awaited then.
    expect(silent?.step.name).toBe('silent');
    expect(done.status).toBe('Failed');
    expect(done.steps.map((step: any) => step.status)).toEqual(['Completed', 'Failed', 'Cancelled']);
    expect(done.steps[1].errorMessage).toMatch(/heartbeat/i);
    expect(stack.statesEntered(executionId)).toEqual([
      ...['Advance', 'Route', 'RunSingleStep', 'SingleStepFailed'],
      ...['Advance', 'Route', 'Finished'],
    ]);
  });

  it('keeps a step alive while its worker heartbeats', async () => {
    const { executionId } = await run([{ name: 'steady' }]);
    const [task] = await worker.claimAtLeast(1);
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      expect((await worker.heartbeat(task?.taskId as string)).cancellationRequested).toBe(false);
      await new Promise((r) => setTimeout(r, 700));
    }
    expect((await worker.complete(task?.taskId as string)).body.accepted).toBe(true);
    expect((await settled(executionId)).status).toBe('Completed');
  });
});

describe('cancel, pause and resume', () => {
  it('cancels a running execution: the running step is told to stop, pending ones are cancelled', async () => {
    const { executionId } = await run([{ name: 'running' }, { name: 'pending' }]);
    const [task] = await worker.claimAtLeast(1);
    await answered200(executionId, 'cancel', 'Cancelled');
    expect((await worker.heartbeat(task?.taskId as string)).cancellationRequested).toBe(true);
    expect((await worker.complete(task?.taskId as string, 'Cancelled')).body.accepted).toBe(false);
    const done = await execution(executionId);
    expect(done.status).toBe('Cancelled');
    expect(done.steps.map((s: any) => s.status)).toEqual(['Cancelled', 'Cancelled']);
    expect(await worker.claim({ waitSeconds: 1 })).toEqual([]);
  });

  it('keeps a completion that came before the cancel, and the cancel still wins the execution', async () => {
    const { executionId } = await run([{ name: 'first' }, { name: 'second' }]);
    const [task] = await worker.claimAtLeast(1);
    await worker.complete(task?.taskId as string);
    await admin.post(`/schedule-executions/${executionId}/cancel`);
    const done = await execution(executionId);
    expect(done.status).toBe('Cancelled');
    expect(done.steps[0].status).toBe('Completed');
    expect(done.steps[1].status).toBe('Cancelled');
  });

  it('ignores a completion that comes after the cancel', async () => {
    const { executionId } = await run([{ name: 'only' }]);
    const [task] = await worker.claimAtLeast(1);
    await admin.post(`/schedule-executions/${executionId}/cancel`);
    const late = await worker.complete(task?.taskId as string);
    expect(late.body).toEqual({ accepted: false, stepStatus: 'Cancelled' });
    expect((await execution(executionId)).status).toBe('Cancelled');
  });

  it('pauses between stages and resumes', async () => {
    const { executionId } = await run([{ name: 'before' }, { name: 'after' }]);
    const [task] = await worker.claimAtLeast(1);
    await answered200(executionId, 'pause', 'Paused');
    // The running step finishes; the next stage is held.
    await worker.complete(task?.taskId as string);
    const held = await eventually(
      () => execution(executionId),
      (e) => e.steps[1].status === 'Waiting',
    );
    expect(held.status).toBe('Paused');
    expect(await worker.claim({ waitSeconds: 2 })).toEqual([]);
    expect((await admin.post(`/schedule-executions/${executionId}/pause`)).status).toBe(409);

    const resumed = await admin.post(`/schedule-executions/${executionId}/resume`);
    expect(resumed.body.status).toBe('InProgress');
    const [next] = await worker.claimAtLeast(1);
    expect(next?.step.name).toBe('after');
    await worker.complete(next?.taskId as string);
    expect((await settled(executionId)).status).toBe('Completed');
  });

  it('cancels a paused execution', async () => {
    const { executionId } = await run([{ name: 'a' }, { name: 'b' }]);
    const [task] = await worker.claimAtLeast(1);
    await admin.post(`/schedule-executions/${executionId}/pause`);
    await worker.complete(task?.taskId as string);
    const cancelled = await admin.post(`/schedule-executions/${executionId}/cancel`);
    expect(cancelled.body.status).toBe('Cancelled');
    expect((await execution(executionId)).steps.map((s: any) => s.status)).toEqual([
      'Completed',
      'Cancelled',
    ]);
  });
});

describe('overlap policies', () => {
  it('BufferOne queues one execution behind the active one and starts it when that ends', async () => {
    const { scheduleId, executionId: first } = await run([{ name: 'x' }], { overlapPolicy: 'BufferOne' });
    const [task] = await worker.claimAtLeast(1);
    const second = await admin.post(`/schedules/${scheduleId}/run`);
    expect(second.status).toBe(202);
    const third = await admin.post(`/schedules/${scheduleId}/run`);
    expect(third.status).toBe(409);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await execution(second.body.executionId)).status).toBe('Queued');

    await worker.complete(task?.taskId as string);
    expect((await settled(first)).status).toBe('Completed');
    const [next] = await worker.claimAtLeast(1);
    expect(next?.executionId).toBe(second.body.executionId);
    await worker.complete(next?.taskId as string);
    expect((await settled(second.body.executionId)).status).toBe('Completed');
  });

  it('cancels a buffered (Queued) execution', async () => {
    const { scheduleId, executionId: first } = await run([{ name: 'x' }], { overlapPolicy: 'BufferOne' });
    const [task] = await worker.claimAtLeast(1);
    const buffered = (await admin.post(`/schedules/${scheduleId}/run`)).body.executionId;
    const cancelled = await admin.post(`/schedule-executions/${buffered}/cancel`);
    expect(cancelled.body.status).toBe('Cancelled');
    await worker.complete(task?.taskId as string);
    expect((await settled(first)).status).toBe('Completed');
    expect((await execution(buffered)).steps[0].status).toBe('Cancelled');
  });

  it('AllowAll runs executions side by side', async () => {
    const { scheduleId, executionId: first } = await run([{ name: 'x' }], { overlapPolicy: 'AllowAll' });
    const second = (await admin.post(`/schedules/${scheduleId}/run`)).body.executionId;
    const tasks = await worker.claimAtLeast(2);
    expect(new Set(tasks.map((t) => t.executionId))).toEqual(new Set([first, second]));
    for (const task of tasks) await worker.complete(task.taskId);
    expect((await settled(first)).status).toBe('Completed');
    expect((await settled(second)).status).toBe('Completed');
  });

  it('CancelOther cancels the active execution and starts the new one', async () => {
    const { scheduleId, executionId: first } = await run([{ name: 'x' }], { overlapPolicy: 'CancelOther' });
    const [task] = await worker.claimAtLeast(1);
    const second = await admin.post(`/schedules/${scheduleId}/run`);
    expect(second.status).toBe(202);
    expect((await execution(first)).status).toBe('Cancelled');
    expect((await worker.heartbeat(task?.taskId as string)).cancellationRequested).toBe(true);
    const [next] = await worker.claimAtLeast(1);
    expect(next?.executionId).toBe(second.body.executionId);
    await worker.complete(next?.taskId as string);
    expect((await settled(second.body.executionId)).status).toBe('Completed');
  });
});

describe('retrying an execution', () => {
  it('retries a run whose stage 2 failed: stage 1 is carried over, not run again, stages 2 and 3 run', async () => {
    // Arrange: a, then b fails.
    const { executionId: originalId } = await run([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const failed = await drive(originalId, { b: 'FailedWithError' });
    expect(failed.status).toBe('Failed');

    // Act
    const retried = await admin.post(`/schedule-executions/${originalId}/retry`);

    // Assert: the retry's tasks are b's and c's only; a is never handed to a worker again.
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({
      executionId: expect.any(String),
      status: 'Queued',
      message: 'Execution queued.',
    });
    const retryId = retried.body.executionId as string;
    const claimed: string[] = [];
    for (;;) {
      const current = await execution(retryId);
      if (['Completed', 'Failed', 'Cancelled'].includes(current.status)) break;
      const [task] = await worker.claim({ waitSeconds: 1 });
      if (!task) continue;
      expect(task.executionId).toBe(retryId);
      claimed.push(task.step.name);
      await worker.complete(task.taskId);
    }
    expect(claimed).toEqual(['b', 'c']);
    const done = await settled(retryId);
    expect(done).toMatchObject({ status: 'Completed', retryOfExecutionId: originalId, totalSteps: 3 });
    const [a, b, c] = done.steps;
    const { taskId: _taskId, ...originalA } = failed.steps[0];
    expect(a).toEqual({ ...originalA, taskId: null, carriedOver: true });
    expect(b).toMatchObject({ status: 'Completed', carriedOver: false });
    expect(c).toMatchObject({ status: 'Completed', carriedOver: false });
    expect(b.taskId).not.toBe(failed.steps[1].taskId);
    expect((await execution(originalId)).retriedByExecutionId).toBe(retryId);
    expect(await worker.claim({ waitSeconds: 1 })).toEqual([]);

    // A Completed execution is not retried; a stage beyond the snapshot is refused, naming the field.
    expect((await admin.post(`/schedule-executions/${retryId}/retry`)).status).toBe(409);
    for (const fromStepIndex of [3, 1.5, -1]) {
      const refused = await admin.post(`/schedule-executions/${originalId}/retry`, { fromStepIndex });
      expect(refused.status).toBe(400);
      expect(Object.keys(refused.body.validationErrors)).toEqual(['fromStepIndex']);
    }
  });

  it('replays a retry sent again with its Idempotency-Key', async () => {
    // Arrange
    const { executionId: originalId } = await run([{ name: 'only' }]);
    await drive(originalId, { only: 'FailedWithError' });
    const keyed = apiClient(stack, stack.adminApiKey, { 'Idempotency-Key': `retry-${counter}` });
    const first = await keyed.post(`/schedule-executions/${originalId}/retry`, { fromStepIndex: 0 });

    // Act
    const again = await keyed.post(`/schedule-executions/${originalId}/retry`, { fromStepIndex: 0 });

    // Assert
    expect(first.status).toBe(202);
    expect(first.headers.get('Idempotent-Replayed')).toBeNull();
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect((await drive(first.body.executionId)).status).toBe('Completed');
  });

  it('answers 409 CONFLICT to the key sent again with another fromStepIndex', async () => {
    // Arrange
    const { executionId: originalId } = await run([{ name: 'first' }, { name: 'second' }]);
    await drive(originalId, { first: 'Complete', second: 'FailedWithError' });
    const keyed = apiClient(stack, stack.adminApiKey, { 'Idempotency-Key': `reused-${counter}` });
    const first = await keyed.post(`/schedule-executions/${originalId}/retry`, { fromStepIndex: 1 });

    // Act
    const reused = await keyed.post(`/schedule-executions/${originalId}/retry`, { fromStepIndex: 0 });
    const bodyless = await keyed.post(`/schedule-executions/${originalId}/retry`);

    // Assert: the contract's error body, naming the execution the key started; nothing else started.
    expect(first.status).toBe(202);
    for (const refused of [reused, bodyless]) {
      expect(refused.status).toBe(409);
      expect(refused.headers.get('Idempotent-Replayed')).toBeNull();
      expect(refused.body).toEqual({
        code: 'CONFLICT',
        message: expect.stringContaining('already used with a different request'),
        details: { executionId: first.body.executionId },
        timestamp: expect.any(String),
      });
    }
    expect((await execution(originalId)).retriedByExecutionId).toBe(first.body.executionId);
    expect((await drive(first.body.executionId)).status).toBe('Completed');
  });
});
