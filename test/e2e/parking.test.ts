import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { eventually } from '../helpers/eventually.js';
import {
  type ApiClient,
  apiClient,
  executionOf,
  runSchedule,
  settled as settledOn,
  startTestStack,
} from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';

/**
 * Waits that end by a wake-up, on the real state machine and the local engine: the park's fallback
 * (ORCHESTRATOR_WAIT_SECONDS) is 10 minutes here, so anything that happens within seconds of a
 * resume or of a predecessor's end was woken, not polled.
 */

const FALLBACK_SECONDS = 600;
/** Far below the fallback: a wake-up, with the engine's and the worker's own latencies. */
const PROMPTLY_MS = 5_000;

let stack: LocalStack;
let admin: ApiClient;
let worker: TestWorker;
let sfn: SFNClient;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack({
    waitSeconds: FALLBACK_SECONDS,
    heartbeatTimeoutSeconds: 30,
    tablePrefix: 'park',
  });
  admin = apiClient(stack);
  const key = await admin.post('/api-keys', { name: 'park-worker', roles: ['Worker'] });
  worker = new TestWorker(apiClient(stack, key.body.key));
  // The stack points the handlers' SDK at its engine through the environment; so does this client.
  sfn = new SFNClient({});
});

afterAll(async () => {
  sfn?.destroy();
  await stack?.stop();
});

async function run(names: string[], overlapPolicy = 'AllowAll') {
  counter += 1;
  const pool = `park-pool-${counter}`;
  worker.pools = [pool];
  return runSchedule(
    admin,
    `Parked ${counter}`,
    pool,
    names.map((name) => ({ name })),
    { overlapPolicy },
  );
}

const execution = (id: string) => executionOf(admin, id);
const settled = (id: string) => settledOn(admin, id);
const stateMachineStatus = async (id: string) =>
  (
    await sfn.send(
      new DescribeExecutionCommand({
        executionArn: `${process.env.STATE_MACHINE_ARN?.replace(':stateMachine:', ':execution:')}:${id}`,
      }),
    )
  ).status;

/** Pauses the execution while its first step runs, completes that step, and waits until the next stage is held. */
async function pausedAfterFirstStage(executionId: string) {
  const [task] = await worker.claimAtLeast(1);
  expect((await admin.post(`/schedule-executions/${executionId}/pause`)).status).toBe(200);
  await worker.complete(task?.taskId as string);
  await eventually(
    () => execution(executionId),
    (e) => e.steps[1].status === 'Waiting',
  );
  // Past Advance's `wait`: the state machine is parked (or parking) now.
  await new Promise((r) => setTimeout(r, 1_000));
}

describe('a parked execution', () => {
  it('resumes at once and runs the remaining stages exactly once', async () => {
    const { executionId } = await run(['before', 'middle', 'after']);
    await pausedAfterFirstStage(executionId);
    expect(await worker.claim({ waitSeconds: 1 })).toEqual([]);

    const resumedAt = Date.now();
    expect((await admin.post(`/schedule-executions/${executionId}/resume`)).body.status).toBe('InProgress');
    const [middle] = await worker.claimAtLeast(1, PROMPTLY_MS);
    expect(Date.now() - resumedAt).toBeLessThan(PROMPTLY_MS);
    await worker.complete(middle?.taskId as string);
    const [after] = await worker.claimAtLeast(1);
    await worker.complete(after?.taskId as string);

    const done = await settled(executionId);
    expect([middle?.step.name, after?.step.name]).toEqual(['middle', 'after']);
    expect(done.status).toBe('Completed');
    expect(done.steps.map((s: any) => s.status)).toEqual(['Completed', 'Completed', 'Completed']);
    expect(new Set(done.steps.map((s: any) => s.taskId)).size).toBe(3);
    expect(await worker.claim({ waitSeconds: 1 })).toEqual([]);
    expect(await stateMachineStatus(executionId)).toBe('SUCCEEDED');
  });

  it('ends on cancel, and so does its state machine', async () => {
    const { executionId } = await run(['a', 'b']);
    await pausedAfterFirstStage(executionId);

    const cancelled = await admin.post(`/schedule-executions/${executionId}/cancel`);

    expect(cancelled.body.status).toBe('Cancelled');
    expect((await execution(executionId)).steps.map((s: any) => s.status)).toEqual([
      'Completed',
      'Cancelled',
    ]);
    expect(await stateMachineStatus(executionId)).toBe('ABORTED');
    expect(await worker.claim({ waitSeconds: 1 })).toEqual([]);
  });

  it('BufferOne: starts the buffered run as soon as the one before ends', async () => {
    const { scheduleId, executionId: first } = await run(['x'], 'BufferOne');
    const [task] = await worker.claimAtLeast(1);
    const second = (await admin.post(`/schedules/${scheduleId}/run`)).body.executionId as string;
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await execution(second)).status).toBe('Queued');

    const endedAt = Date.now();
    await worker.complete(task?.taskId as string);
    const [next] = await worker.claimAtLeast(1, PROMPTLY_MS);

    expect(Date.now() - endedAt).toBeLessThan(PROMPTLY_MS);
    expect(next?.executionId).toBe(second);
    expect((await settled(first)).status).toBe('Completed');
    await worker.complete(next?.taskId as string);
    expect((await settled(second)).status).toBe('Completed');
  });

  it('BufferOne: starts the buffered run as soon as the one before is cancelled', async () => {
    const { scheduleId, executionId: first } = await run(['x'], 'BufferOne');
    await worker.claimAtLeast(1);
    const second = (await admin.post(`/schedules/${scheduleId}/run`)).body.executionId as string;
    await new Promise((r) => setTimeout(r, 1_500));

    const cancelledAt = Date.now();
    await admin.post(`/schedule-executions/${first}/cancel`);
    const [next] = await worker.claimAtLeast(1, PROMPTLY_MS);

    expect(Date.now() - cancelledAt).toBeLessThan(PROMPTLY_MS);
    expect(next?.executionId).toBe(second);
    await worker.complete(next?.taskId as string);
    expect((await settled(second)).status).toBe('Completed');
  });
});
