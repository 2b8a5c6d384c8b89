import { random } from '../data.js';
import type { DynamoCall } from '../dynamo-proxy.js';
import type { Invocation, LambdaMeter } from '../lambdas.js';
import { sleep } from '../measure.js';
import type { BenchStack } from '../stack.js';
import type { PhaseContext } from './progress.js';
import { SEQUENTIAL, shapeOf } from './schedules.js';
import { HANDOFF_WAIT_SECONDS, HANDOFFS, IDLE_SECONDS } from './settings.js';
import { transitionsEntered, type Window } from './units.js';
import { BenchWorker, type ClaimedTask } from './worker.js';

/**
 * Phase (a), hand-off latency, with the probes priced later: what a heartbeat, an idle long poll and
 * a claim that finds its step queued cost, each measured alone.
 */

// ---- Phase 0: what a heartbeat and an idle long poll cost -------------------------------------------------

export interface Probe {
  calls: DynamoCall[];
  invocations: Invocation[];
  ms: number;
}

async function probe(stack: BenchStack, meter: LambdaMeter, action: () => Promise<unknown>): Promise<Probe> {
  await stack.proxy.take();
  meter.take();
  const started = performance.now();
  await action();
  const ms = performance.now() - started;
  return { calls: await stack.proxy.take(), invocations: meter.take(), ms };
}

// ---- Phase a: hand-off latency ------------------------------------------------------------------------------

export interface HandoffResult {
  window: Window;
  handoffs: number[];
  toEnqueued: number[];
  enqueuedToClaimed: number[];
  completeCalls: number[];
  /** From the complete call's start: the completion now decides the next move before it answers. */
  fromCompleteCall: number[];
  firstClaims: number[];
  heartbeat: Probe;
  idle: Probe;
  /** Handler time of claims that found their step already queued. */
  immediateClaims: number[];
}

export async function handoffPhase(context: PhaseContext, scheduleId: string): Promise<HandoffResult> {
  const { stack, call, workerKey, meter, progress } = context;
  const pool = 'handoff';
  const running = new BenchWorker(stack.apiUrl, workerKey, 'bench-handoff-1');
  const polling = new BenchWorker(stack.apiUrl, workerKey, 'bench-handoff-2');
  const run = async () => {
    const answer = await call('POST', `/schedules/${scheduleId}/run`, stack.adminApiKey);
    if (answer.status !== 202)
      throw new Error(`run answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body.executionId as string;
  };
  const completeOrThrow = async (worker: BenchWorker, taskId: string) => {
    const answer = await worker.complete(taskId);
    if (!answer.accepted) throw new Error(`complete not accepted: ${JSON.stringify(answer)}`);
  };

  // Probes, on executions of their own: an idle long poll; claims that find their step already queued
  // (what a claim costs when workers are busy); heartbeats of a claimed step.
  // A claim first, so the probe's write of the worker record is a steady one (it moves the record's
  // index entry), not the creating one.
  await polling.claim('bench-idle', 1, 0);
  const idle = await probe(stack, meter, () => polling.claim('bench-idle', 1, IDLE_SECONDS));
  const immediateClaims: number[] = [];
  let heartbeat: Probe | undefined;
  for (let e = 0; e < 2; e++) {
    const probeId = await run();
    for (let ordinal = 0; ordinal < 5; ordinal++) {
      await until(() => progress.enqueuedAt.has(`${probeId}:${ordinal}`));
      let held: ClaimedTask | undefined;
      const claim = await probe(stack, meter, async () => {
        [held] = await running.claim(pool, 1, HANDOFF_WAIT_SECONDS);
      });
      if (!held || held.executionId !== probeId) throw new Error('Probe execution lost a step');
      immediateClaims.push(...claim.invocations.filter((i) => i.kind === 'claimTasks').map((i) => i.ms));
      const taskId = held.taskId;
      if (!heartbeat) {
        await running.heartbeat(taskId); // warm-up
        heartbeat = await probe(stack, meter, async () => {
          for (let n = 0; n < 5; n++) {
            const answer = await running.heartbeat(taskId);
            if (answer.cancellationRequested) throw new Error('heartbeat answered cancellationRequested');
          }
        });
      }
      await completeOrThrow(running, taskId);
    }
    await progress.finished(probeId);
  }
  if (!heartbeat) throw new Error('No heartbeat probe');

  // The measured hand-offs.
  const { steps } = shapeOf(SEQUENTIAL);
  const executions = Math.ceil(HANDOFFS / (steps - 1));
  const result: Pick<
    HandoffResult,
    'handoffs' | 'toEnqueued' | 'enqueuedToClaimed' | 'completeCalls' | 'fromCompleteCall' | 'firstClaims'
  > = {
    handoffs: [],
    toEnqueued: [],
    enqueuedToClaimed: [],
    completeCalls: [],
    fromCompleteCall: [],
    firstClaims: [],
  };
  await stack.proxy.take();
  meter.take();
  const nextRandom = random(7);
  const measured: string[] = [];
  for (let e = 0; e < executions; e++) {
    const runAt = performance.now();
    const executionId = await run();
    measured.push(executionId);
    let [task] = await running.claim(pool, 1, HANDOFF_WAIT_SECONDS);
    if (!task || task.executionId !== executionId) throw new Error('First step not handed out');
    result.firstClaims.push(performance.now() - runAt);
    for (let ordinal = 1; ordinal < steps; ordinal++) {
      // The next step's worker is already waiting when the step ends; the step "runs" a random time
      // so that completions land anywhere in the claim's 500 ms poll cycle.
      const next = polling.claim(pool, 1, HANDOFF_WAIT_SECONDS);
      await sleep(20 + nextRandom() * 500);
      const completeStarted = performance.now();
      await completeOrThrow(running, task.taskId);
      const completed = performance.now();
      const [claimed] = await next;
      const claimedAt = performance.now();
      if (!claimed || claimed.executionId !== executionId) throw new Error('Hand-off lost the next step');
      const enqueued = progress.enqueuedAt.get(`${executionId}:${ordinal}`) ?? Number.NaN;
      if (result.handoffs.length < HANDOFFS) {
        result.handoffs.push(claimedAt - completed);
        result.toEnqueued.push(enqueued - completed);
        result.enqueuedToClaimed.push(claimedAt - enqueued);
        result.completeCalls.push(completed - completeStarted);
        result.fromCompleteCall.push(claimedAt - completeStarted);
      }
      task = claimed;
    }
    await completeOrThrow(running, task.taskId);
    await progress.finished(executionId);
  }
  // The last poll before the next phase is not part of it.
  const window: Window = {
    label: `(a) ${executions} sequential executions`,
    calls: await stack.proxy.take(),
    invocations: meter.take(),
    steps: executions * steps,
    executions,
    shape: shapeOf(SEQUENTIAL),
    transitions: transitionsEntered(measured, stack),
  };
  return { ...result, window, heartbeat, idle, immediateClaims };
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('Timed out waiting for the state machine');
    await sleep(5);
  }
}
