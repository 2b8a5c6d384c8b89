import { cpus, loadavg } from 'node:os';
import { WorkerTaskIndex } from '../core/adapters/dynamodb/tables.js';
import { assignStageIndexes, countStages } from '../core/stages.js';
import { random } from './data.js';
import type { DynamoCall } from './dynamo-proxy.js';
import { type Invocation, instrumentLambdas, type LambdaMeter } from './lambdas.js';
import { percentile, trim } from './measure.js';
import { type BenchStack, startBenchStack } from './stack.js';
import { replayWriteUnits, type WriteUnits } from './write-units.js';

/**
 * Orchestration figures (`npm run bench`, or `BENCH_ONLY=orchestration`): a fresh local stack (state
 * machine hold 1 s, default heartbeat, reconciler off, counting proxy in front of DynamoDB Local),
 * driven over HTTP by workers with a Worker key exactly as test/helpers/test-worker.ts does.
 *
 *   a. Hand-off latency between sequential steps: a worker long-polls the pool before the previous
 *      step's completion is reported; measured from the complete call returning to the claim returning
 *      the next step.
 *   b. Throughput and correctness: BENCH_EXECUTIONS executions × 5 steps (steps 2 and 3 parallel with
 *      step 1) run to completion by BENCH_WORKERS concurrent worker loops; every execution, step, claim
 *      and completion is checked: any loss or duplicate fails the process.
 *   c. Per step: DynamoDB requests, RRU and WRU (AWS rules, see write-units.ts), Lambda invocations and
 *      Step Functions state transitions (computed from the ASL, cross-checked against the orchestrator
 *      invocations counted through middy, see lambdas.ts).
 *   d. Cost per million steps at public on-demand prices.
 *
 * Environment: BENCH_EXECUTIONS (200), BENCH_HANDOFFS (100), BENCH_WORKERS (20 loops),
 * BENCH_WORKER_MAX_TASKS (5), BENCH_LAMBDA_MB (512), BENCH_HEARTBEATS_PER_STEP (1), BENCH_IDLE_SECONDS (5).
 */

const int = (name: string, fallback: number, min = 1) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name}: a whole number ≥ ${min}`);
  return value;
};
const EXECUTIONS = int('BENCH_EXECUTIONS', 200);
const HANDOFFS = int('BENCH_HANDOFFS', 100);
const WORKER_LOOPS = int('BENCH_WORKERS', 20);
const MAX_TASKS = int('BENCH_WORKER_MAX_TASKS', 5);
const LAMBDA_MB = int('BENCH_LAMBDA_MB', 512);
const HEARTBEATS_PER_STEP = int('BENCH_HEARTBEATS_PER_STEP', 1, 0);
const IDLE_SECONDS = int('BENCH_IDLE_SECONDS', 5);
/** Long poll of the throughput workers (the hand-off worker polls 20 s). */
const THROUGHPUT_WAIT_SECONDS = 5;
const HANDOFF_WAIT_SECONDS = 20;

/** Public on-demand prices, us-east-1, USD. */
const PRICES = {
  asOf: 'us-east-1 on-demand list prices as of 2026-11-29, read from stored copies of the AWS pricing pages and third-party summaries (not a live check)',
  sfnTransition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1e6,
  /** x86, first 6 billion GB-s a month. */
  lambdaGbSecond: 0.0000166667,
  /** REST API, first 333 million requests a month. */
  apiRequest: 3.5 / 1e6,
  /** On-demand, after the November 2024 cut. */
  writeRequestUnit: 0.625 / 1e6,
  readRequestUnit: 0.125 / 1e6,
};

const log = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);

// ---- HTTP ----------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: any;
}

function http(apiUrl: string) {
  return async (
    method: string,
    path: string,
    key: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Answer> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}
type Http = ReturnType<typeof http>;

interface ClaimedTask {
  taskId: string;
  executionId: string;
  step: { id: string; name: string };
}

/** A worker over HTTP, as test/helpers/test-worker.ts. */
class Worker {
  constructor(
    private readonly call: Http,
    private readonly key: string,
    readonly workerId: string,
  ) {}

  async claim(pool: string, maxTasks: number, waitSeconds: number, signal?: AbortSignal) {
    const answer = await this.call(
      'POST',
      '/worker/tasks/claim',
      this.key,
      { workerId: this.workerId, pools: [pool], maxTasks, waitSeconds },
      signal,
    );
    if (answer.status !== 200)
      throw new Error(`claim answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body.tasks as ClaimedTask[];
  }

  async heartbeat(taskId: string) {
    return this.call('POST', `/worker/tasks/${taskId}/heartbeat`, this.key, { message: 'working' });
  }

  async complete(taskId: string) {
    return this.call('POST', `/worker/tasks/${taskId}/complete`, this.key, { activityStatus: 'Complete' });
  }
}

// ---- The schedules -------------------------------------------------------------------------------------

const STEP_KINDS = [
  { stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Delta Import' },
  { stepType: 'RunProfile', connectedSystemId: 2, runProfileName: 'Delta Import' },
  { stepType: 'PowerShell', scriptPath: 'C:\\Scripts\\sync.ps1', arguments: '-Verbose' },
  { stepType: 'Executable', executablePath: 'C:\\Tools\\export.exe', arguments: '/all' },
  { stepType: 'SqlScript', sqlConnection: 'reporting', sqlScriptPath: 'reports\\daily.sql' },
];

function scheduleBody(name: string, pool: string, modes: string[]) {
  return {
    name,
    description: 'Orchestration benchmark',
    triggerType: 'Manual',
    overlapPolicy: 'AllowAll',
    steps: modes.map((executionMode, n) => ({
      name: `Step ${n + 1}`,
      ...STEP_KINDS[n % STEP_KINDS.length],
      executionMode,
      timeoutSeconds: 3600,
      workerPool: pool,
    })),
  };
}

const SEQUENTIAL = ['Sequential', 'Sequential', 'Sequential', 'Sequential', 'Sequential'];
const MIX = ['Sequential', 'ParallelWithPrevious', 'ParallelWithPrevious', 'Sequential', 'Sequential'];
const shapeOf = (modes: string[]) => {
  const steps = assignStageIndexes(modes.map((executionMode) => ({ executionMode: executionMode as any })));
  return { steps: steps.length, stages: countStages(steps) };
};

// ---- Observing the state machine through the orchestrator's invocations --------------------------------

class Progress {
  readonly enqueuedAt = new Map<string, number>();
  readonly finishedAt = new Map<string, number>();
  private readonly waiting = new Map<string, () => void>();
  private allDone?: { ids: Set<string>; resolve: () => void; armed: boolean };

  constructor(meter: LambdaMeter) {
    meter.onInvocation = (invocation) => this.observe(invocation);
  }

  private observe(invocation: Invocation) {
    if (invocation.fn !== 'orchestrator' || !invocation.ok) return;
    const executionId = String(invocation.event.executionId);
    if (invocation.kind === 'enqueueStep') {
      this.enqueuedAt.set(`${executionId}:${invocation.event.ordinal}`, invocation.endedAt);
    }
    if (invocation.kind === 'advance' && invocation.result?.action === 'finished') {
      this.finishedAt.set(executionId, invocation.endedAt);
      this.waiting.get(executionId)?.();
      this.recheck();
    }
  }

  finished(executionId: string, timeoutMs = 30_000): Promise<void> {
    if (this.finishedAt.has(executionId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Execution ${executionId} did not finish`)), timeoutMs);
      this.waiting.set(executionId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Resolves once every execution in `ids` has finished; `ids` fills up while runs are accepted, so
   * nothing resolves before `arm()` says the set is complete.
   */
  all(ids: Set<string>): { done: Promise<void>; arm: () => void } {
    let resolve = () => {};
    const done = new Promise<void>((ok) => {
      resolve = ok;
    });
    this.allDone = { ids, resolve, armed: false };
    return {
      done,
      arm: () => {
        if (this.allDone) this.allDone.armed = true;
        this.recheck();
      },
    };
  }

  private recheck() {
    const all = this.allDone;
    if (all?.armed && [...all.ids].every((id) => this.finishedAt.has(id))) all.resolve();
  }
}

// ---- Measuring a window: what a phase cost ---------------------------------------------------------------

interface Window {
  label: string;
  calls: DynamoCall[];
  invocations: Invocation[];
  steps: number;
  executions: number;
  stages: number;
  stepsPerExecution: number;
}

interface PerStep {
  transitionsMeasured: number;
  transitionsComputed: number;
  lambdaRequests: number;
  /** As run: measured handler time of every invocation in the window. */
  lambdaGbSeconds: number;
  claimGbSeconds: number;
  /** Priced: each invocation at the unloaded mean time of its kind (long-poll waiting excluded). */
  pricedGbSeconds: number;
  apiRequests: number;
  ddbReads: number;
  rru: number;
  ddbWrites: number;
  wru: number;
  wcuReportedLocally: number;
  failedRequests: number;
}

/** State transitions from the ASL (statemachines/execution.asl.json), for a run with no wait and no failure. */
const transitionsPerExecution = (stages: number, steps: number) => 3 * stages + steps + 3;

/**
 * Transitions the counted orchestrator invocations imply: each Advance invocation is the Advance state
 * (a retry is another one), each successful one is followed by Route and by RunStage (Map), Park or
 * Finished; each RunStep invokes enqueueStep once; StepFailed and Crash invoke their own action.
 */
function measuredTransitions(invocations: Invocation[]): number {
  const orchestrator = invocations.filter((i) => i.fn === 'orchestrator');
  const advances = orchestrator.filter((i) => i.kind === 'advance');
  const routed = advances.filter((i) => i.ok).length;
  const enqueues = orchestrator.filter((i) => i.kind === 'enqueueStep').length;
  const stepFailed = orchestrator.filter((i) => i.kind === 'stepFailed').length;
  const crashes = orchestrator.filter((i) => i.kind === 'crash');
  return (
    advances.length +
    routed * 2 + // Route + (RunStage | Park | Finished)
    enqueues +
    stepFailed +
    crashes.length +
    crashes.filter((i) => i.ok).length // Failed
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

const invocationKey = (i: Invocation) => `${i.fn} ${i.kind}`;

function perStep(window: Window, units: Map<number, WriteUnits>, priced: Map<string, number>): PerStep {
  const { calls, invocations, steps } = window;
  const ok = calls.filter((c) => c.status === 200);
  const reads = ok.filter((c) => !c.write);
  const writes = ok.filter((c) => c.write);
  const ms = (list: Invocation[]) => sum(list.map((i) => i.ms));
  const claims = invocations.filter((i) => i.kind === 'claimTasks');
  return {
    transitionsMeasured: measuredTransitions(invocations) / steps,
    transitionsComputed:
      (window.executions * transitionsPerExecution(window.stages, window.stepsPerExecution)) / steps,
    lambdaRequests: invocations.length / steps,
    lambdaGbSeconds: ((ms(invocations) / 1000) * (LAMBDA_MB / 1024)) / steps,
    claimGbSeconds: ((ms(claims) / 1000) * (LAMBDA_MB / 1024)) / steps,
    pricedGbSeconds:
      ((sum(invocations.map((i) => priced.get(invocationKey(i)) ?? i.ms)) / 1000) * (LAMBDA_MB / 1024)) /
      steps,
    apiRequests: invocations.filter((i) => i.fn === 'authorizer').length / steps,
    ddbReads: reads.length / steps,
    rru: sum(reads.map((c) => c.capacity)) / steps,
    ddbWrites: writes.length / steps,
    wru: sum(writes.map((c) => units.get(c.seq)?.aws ?? Number.NaN)) / steps,
    wcuReportedLocally: sum(writes.map((c) => c.capacity)) / steps,
    failedRequests: calls.filter((c) => c.status !== 200).length / steps,
  };
}

// ---- Phase 0: what a heartbeat and an idle long poll cost -------------------------------------------------

interface Probe {
  calls: DynamoCall[];
  invocations: Invocation[];
  ms: number;
}

async function probe(stack: BenchStack, meter: LambdaMeter, action: () => Promise<unknown>): Promise<Probe> {
  stack.proxy.take();
  meter.take();
  const started = performance.now();
  await action();
  const ms = performance.now() - started;
  return { calls: stack.proxy.take(), invocations: meter.take(), ms };
}

// ---- Phase a: hand-off latency ------------------------------------------------------------------------------

interface HandoffResult {
  window: Window;
  handoffs: number[];
  toEnqueued: number[];
  enqueuedToClaimed: number[];
  completeCalls: number[];
  firstClaims: number[];
  heartbeat: Probe;
  idle: Probe;
  /** Handler time of claims that found their step already queued. */
  immediateClaims: number[];
}

async function handoffPhase(
  stack: BenchStack,
  call: Http,
  workerKey: string,
  meter: LambdaMeter,
  progress: Progress,
  scheduleId: string,
): Promise<HandoffResult> {
  const pool = 'handoff';
  const running = new Worker(call, workerKey, 'bench-handoff-1');
  const polling = new Worker(call, workerKey, 'bench-handoff-2');
  const run = async () => {
    const answer = await call('POST', `/schedules/${scheduleId}/run`, stack.adminApiKey);
    if (answer.status !== 202)
      throw new Error(`run answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body.executionId as string;
  };
  const completeOrThrow = async (worker: Worker, taskId: string) => {
    const answer = await worker.complete(taskId);
    if (answer.status !== 200 || !answer.body.accepted) {
      throw new Error(`complete answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
  };

  // Probes, on executions of their own: an idle long poll; claims that find their step already queued
  // (what a claim costs when workers are busy); heartbeats of a claimed step.
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
            if (answer.status !== 200 || answer.body.cancellationRequested) {
              throw new Error(`heartbeat answered ${answer.status}: ${JSON.stringify(answer.body)}`);
            }
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
    'handoffs' | 'toEnqueued' | 'enqueuedToClaimed' | 'completeCalls' | 'firstClaims'
  > = { handoffs: [], toEnqueued: [], enqueuedToClaimed: [], completeCalls: [], firstClaims: [] };
  stack.proxy.take();
  meter.take();
  const nextRandom = random(7);
  for (let e = 0; e < executions; e++) {
    const runAt = performance.now();
    const executionId = await run();
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
      }
      task = claimed;
    }
    await completeOrThrow(running, task.taskId);
    await progress.finished(executionId);
  }
  // The last poll before the next phase is not part of it.
  const window: Window = {
    label: `(a) ${executions} sequential executions`,
    calls: stack.proxy.take(),
    invocations: meter.take(),
    steps: executions * steps,
    executions,
    stages: shapeOf(SEQUENTIAL).stages,
    stepsPerExecution: steps,
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

// ---- Phase b: throughput and correctness ------------------------------------------------------------------

interface ThroughputResult {
  window: Window;
  wallMs: number;
  runCalls: number[];
  executionMs: number[];
  claimCalls: number;
  emptyClaims: number;
  claimErrors: number;
  completeRetries: number;
  problems: string[];
  verified: { executions: number; steps: number };
}

async function throughputPhase(
  stack: BenchStack,
  call: Http,
  workerKey: string,
  meter: LambdaMeter,
  progress: Progress,
  scheduleIds: string[],
): Promise<ThroughputResult> {
  const pool = 'mix';
  const shape = shapeOf(MIX);
  const expectedSteps = EXECUTIONS * shape.steps;
  const problems: string[] = [];
  const claimed = new Map<string, { executionId: string; stepId: string; workerId: string }>();
  const claimedSteps = new Set<string>();
  const accepted = new Map<string, number>();
  const counters = { claimCalls: 0, emptyClaims: 0, claimErrors: 0, completeRetries: 0, completed: 0 };
  const executionIds = new Set<string>();
  let stopping = false;
  const abort = new AbortController();

  const complete = async (worker: Worker, task: ClaimedTask) => {
    for (let attempt = 1; ; attempt++) {
      const answer = await worker.complete(task.taskId);
      if (answer.status === 200) {
        if (answer.body.accepted) accepted.set(task.taskId, (accepted.get(task.taskId) ?? 0) + 1);
        else problems.push(`complete of task ${task.taskId} not accepted: ${JSON.stringify(answer.body)}`);
        counters.completed++;
        return;
      }
      if (attempt >= 5) {
        problems.push(`complete of task ${task.taskId} answered ${answer.status} ${attempt} times`);
        return;
      }
      counters.completeRetries++;
      await sleep(100 * attempt);
    }
  };

  const loop = async (n: number) => {
    const worker = new Worker(call, workerKey, `bench-worker-${String(n + 1).padStart(2, '0')}`);
    while (!stopping) {
      let tasks: ClaimedTask[];
      try {
        counters.claimCalls++;
        tasks = await worker.claim(pool, MAX_TASKS, THROUGHPUT_WAIT_SECONDS, abort.signal);
      } catch (error) {
        if (stopping) return;
        counters.claimErrors++;
        problems.push(`claim failed: ${error instanceof Error ? error.message : String(error)}`);
        await sleep(200);
        continue;
      }
      if (tasks.length === 0) counters.emptyClaims++;
      for (const task of tasks) {
        if (claimed.has(task.taskId)) problems.push(`task ${task.taskId} claimed twice`);
        const stepKey = `${task.executionId}:${task.step.id}`;
        if (claimedSteps.has(stepKey)) problems.push(`step ${stepKey} handed out twice`);
        claimed.set(task.taskId, {
          executionId: task.executionId,
          stepId: task.step.id,
          workerId: worker.workerId,
        });
        claimedSteps.add(stepKey);
      }
      await Promise.all(tasks.map((task) => complete(worker, task)));
    }
  };

  stack.proxy.take();
  meter.take();
  const started = performance.now();
  const { done, arm } = progress.all(executionIds);
  const loops = Array.from({ length: WORKER_LOOPS }, (_, n) => loop(n));
  // Runs: one lane per schedule (runs of one schedule are serialised by its version check anyway).
  const runCalls: number[] = [];
  const runAt = new Map<string, number>();
  let issued = 0;
  await Promise.all(
    scheduleIds.map(async (scheduleId) => {
      while (issued < EXECUTIONS) {
        issued++;
        const before = performance.now();
        const answer = await call('POST', `/schedules/${scheduleId}/run`, stack.adminApiKey);
        runCalls.push(performance.now() - before);
        if (answer.status !== 202) {
          problems.push(`run answered ${answer.status}: ${JSON.stringify(answer.body)}`);
          continue;
        }
        executionIds.add(answer.body.executionId);
        runAt.set(answer.body.executionId, before);
      }
    }),
  );
  arm();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 240_000);
  });
  const outcome = await Promise.race([done.then(() => 'done' as const), timeout]);
  clearTimeout(timer);
  const wallMs = performance.now() - started;
  const window: Window = {
    label: `(b) ${EXECUTIONS} executions, ${WORKER_LOOPS} workers`,
    calls: stack.proxy.take(),
    invocations: meter.take(),
    steps: expectedSteps,
    executions: EXECUTIONS,
    stages: shape.stages,
    stepsPerExecution: shape.steps,
  };
  if (outcome === 'timeout')
    problems.push(`not finished after 240 s: ${progress.finishedAt.size} of ${EXECUTIONS}`);

  // Stop the workers: their pending long polls are abandoned (nothing is left to claim).
  stopping = true;
  abort.abort();
  await Promise.allSettled(loops);
  for (let n = 0; n < 100 && meter.inFlight('worker') > 0; n++) await sleep(100);

  // Verification: nothing lost, nothing twice.
  if (executionIds.size !== EXECUTIONS)
    problems.push(`${executionIds.size} executions accepted of ${EXECUTIONS}`);
  if (claimed.size !== expectedSteps)
    problems.push(`${claimed.size} tasks claimed, ${expectedSteps} expected`);
  for (const [taskId] of claimed) {
    const times = accepted.get(taskId) ?? 0;
    if (times !== 1) problems.push(`task ${taskId} completion accepted ${times} times`);
  }
  const orchestrator = window.invocations.filter((i) => i.fn === 'orchestrator');
  const perExecution = (kind: string) => {
    const counts = new Map<string, number>();
    for (const i of orchestrator.filter((i) => i.kind === kind)) {
      const id = String(i.event.executionId);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  const enqueues = perExecution('enqueueStep');
  const executionMs: number[] = [];
  let verifiedSteps = 0;
  const ids = [...executionIds];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const answer = await call('GET', `/schedule-executions/${id}`, stack.adminApiKey);
        const e = answer.body;
        const where = `execution ${id}`;
        if (answer.status !== 200) {
          problems.push(`${where}: GET answered ${answer.status}`);
          continue;
        }
        if (e.status !== 'Completed') problems.push(`${where}: ${e.status}`);
        if (e.totalSteps !== shape.stages) problems.push(`${where}: totalSteps ${e.totalSteps}`);
        if (e.steps.length !== shape.steps) problems.push(`${where}: ${e.steps.length} steps`);
        if (!e.startedAt || !e.completedAt) problems.push(`${where}: startedAt/completedAt missing`);
        for (const step of e.steps) {
          if (step.status !== 'Completed' || !step.startedAt || !step.completedAt) {
            problems.push(
              `${where}: step ${step.name} ${step.status} ${step.startedAt} → ${step.completedAt}`,
            );
          } else verifiedSteps++;
        }
        // Stages in order: a stage starts only after every step of the one before completed.
        for (let stage = 1; stage < shape.stages; stage++) {
          const before = e.steps.filter((s: any) => s.stepIndex === stage - 1);
          const after = e.steps.filter((s: any) => s.stepIndex === stage);
          const lastEnd = Math.max(...before.map((s: any) => Date.parse(s.completedAt)));
          const firstStart = Math.min(...after.map((s: any) => Date.parse(s.startedAt)));
          if (!(lastEnd <= firstStart))
            problems.push(`${where}: stage ${stage} started before stage ${stage - 1} ended`);
        }
        if ((enqueues.get(id) ?? 0) !== shape.steps) {
          problems.push(`${where}: ${enqueues.get(id) ?? 0} steps enqueued by the state machine`);
        }
        if (e.completedAt && e.queuedAt) executionMs.push(Date.parse(e.completedAt) - Date.parse(e.queuedAt));
      }
    }),
  );
  return {
    window,
    wallMs,
    runCalls,
    executionMs,
    claimCalls: counters.claimCalls,
    emptyClaims: counters.emptyClaims,
    claimErrors: counters.claimErrors,
    completeRetries: counters.completeRetries,
    problems,
    verified: { executions: ids.length, steps: verifiedSteps },
  };
}

// ---- Printing ---------------------------------------------------------------------------------------------

function table(header: string[], rows: string[][], right: (column: number) => boolean) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (right(c) ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd();
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) log(line(row));
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : '–');
const stats = (values: number[]) => {
  const s = sorted(values);
  return {
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    min: s[0] ?? Number.NaN,
    max: s.at(-1) ?? Number.NaN,
  };
};

function signature(call: DynamoCall): string {
  const tables = call.tables.map((t) => t.replace(/^bench-orch-/, '')).join('+');
  return `${call.operation} ${tables}${call.index ? `/${call.index}` : ''}`;
}

function printSignatures(window: Window, units: Map<number, WriteUnits>) {
  const rows = new Map<
    string,
    { requests: number; failed: number; rcu: number; wru: number; indexes: number; local: number }
  >();
  for (const call of window.calls) {
    const key = signature(call);
    const row = rows.get(key) ?? { requests: 0, failed: 0, rcu: 0, wru: 0, indexes: 0, local: 0 };
    row.requests++;
    if (call.status !== 200) row.failed++;
    else if (call.write) {
      row.wru += units.get(call.seq)?.aws ?? Number.NaN;
      row.indexes += units.get(call.seq)?.indexes ?? Number.NaN;
      row.local += call.capacity;
    } else row.rcu += call.capacity;
    rows.set(key, row);
  }
  const per = (n: number) => trim(n / window.steps);
  table(
    [
      'DynamoDB request (table/index)',
      'req/step',
      'failed/step',
      'RRU/step',
      'WRU/step (AWS)',
      'of which index arms',
      'WCU/step (Local says)',
    ],
    [...rows]
      // By cost: a WRU is priced 5 RRU.
      .sort(([, a], [, b]) => 5 * b.wru + b.rcu - (5 * a.wru + a.rcu))
      .map(([key, r]) => [
        key,
        per(r.requests),
        per(r.failed),
        per(r.rcu),
        per(r.wru),
        per(r.indexes),
        per(r.local),
      ]),
    (c) => c > 0,
  );
}

function printLambdas(a: Window, b: Window) {
  const key = (i: Invocation) =>
    `${i.fn} ${i.kind}${i.kind === 'advance' && i.result ? `→${i.result.action}` : ''}`;
  const groupsA = groupBy(a.invocations, key);
  const groupsB = groupBy(b.invocations, key);
  const cells = (window: Window, list: Invocation[] | undefined) =>
    list
      ? [
          trim(list.length / window.steps),
          ms(sum(list.map((i) => i.ms)) / list.length),
          ms(percentile(sorted(list.map((i) => i.ms)), 0.99)),
          String(list.filter((i) => !i.ok).length),
        ]
      : ['0', '–', '–', '0'];
  table(
    [
      'Lambda invocation',
      '(a) per step',
      'mean ms',
      'p99 ms',
      'failed',
      '(b) per step',
      'mean ms',
      'p99 ms',
      'failed',
    ],
    [...new Set([...groupsA.keys(), ...groupsB.keys()])]
      .sort()
      .map((k) => [k, ...cells(a, groupsA.get(k)), ...cells(b, groupsB.get(k))]),
    (c) => c > 0,
  );
}

function costRows(units: PerStep, heartbeat: PerStep | undefined) {
  const withBeat = (value: number, beat: number | undefined) => value + HEARTBEATS_PER_STEP * (beat ?? 0);
  const sfn = units.transitionsComputed;
  const lambdaRequests = withBeat(units.lambdaRequests, heartbeat?.lambdaRequests);
  const gbs = withBeat(units.pricedGbSeconds, heartbeat?.pricedGbSeconds);
  const api = withBeat(units.apiRequests, heartbeat?.apiRequests);
  const wru = withBeat(units.wru, heartbeat?.wru);
  const rru = withBeat(units.rru, heartbeat?.rru);
  const rows: [string, number, string][] = [
    ['Step Functions state transitions', sfn * PRICES.sfnTransition, `${trim(sfn)} transitions`],
    ['Lambda requests', lambdaRequests * PRICES.lambdaRequest, `${trim(lambdaRequests)} invocations`],
    ['Lambda duration', gbs * PRICES.lambdaGbSecond, `${trim(gbs)} GB-s`],
    ['API Gateway (REST) requests', api * PRICES.apiRequest, `${trim(api)} requests`],
    ['DynamoDB writes', wru * PRICES.writeRequestUnit, `${trim(wru)} WRU`],
    ['DynamoDB reads', rru * PRICES.readRequestUnit, `${trim(rru)} RRU`],
  ];
  return rows;
}

function printCosts(columns: { label: string; units: PerStep }[], heartbeat: PerStep) {
  const perColumn = columns.map((c) => costRows(c.units, heartbeat));
  const names = (perColumn[0] ?? []).map((row) => row[0]);
  const rows = names.map((name, r) => [
    name,
    ...perColumn.flatMap((rowsOfColumn) => {
      const row = rowsOfColumn[r] as [string, number, string];
      return [row[2], `$${fmt(row[1] * 1e6, 2)}`];
    }),
  ]);
  const totals = perColumn.map((rowsOfColumn) => sum(rowsOfColumn.map((row) => row[1])));
  rows.push(['Total', ...totals.flatMap((total) => ['', `$${fmt(total * 1e6, 2)}`])]);
  table(
    ['Per million steps', ...columns.flatMap((c) => [`${c.label}: units/step`, '$ / 1M steps'])],
    rows,
    (c) => c > 0,
  );
}

// ---- Main -------------------------------------------------------------------------------------------------

export async function runOrchestrationBench(): Promise<boolean> {
  const began = performance.now();
  const mix = shapeOf(MIX);
  const sequential = shapeOf(SEQUENTIAL);
  log(
    `Orchestration benchmark: ${HANDOFFS} hand-offs; ${EXECUTIONS} executions × ${mix.steps} steps (${mix.stages} stages: steps 1–3 in parallel, then 4, then 5) with ${WORKER_LOOPS} worker loops claiming up to ${MAX_TASKS} tasks`,
  );
  log(
    `Node ${process.version}, ${cpus().length} CPU(s); one process: local API Gateway, handlers, local Step Functions (hold 1 s, heartbeat 120 s, reconciler off), workers; DynamoDB Local in memory behind the counting proxy`,
  );
  const stack = await startBenchStack({ waitSeconds: 1, tablePrefix: 'bench-orch', logWrites: true });
  let problems: string[] = [];
  try {
    const call = http(stack.apiUrl);
    const meter = await instrumentLambdas();
    const progress = new Progress(meter);
    const key = await call('POST', '/api-keys', stack.adminApiKey, {
      name: 'bench-worker',
      roles: ['Worker'],
    });
    if (key.status !== 201)
      throw new Error(`Creating the Worker key: ${key.status} ${JSON.stringify(key.body)}`);
    const workerKey = key.body.key as string;
    const createSchedule = async (body: unknown) => {
      const answer = await call('POST', '/schedules', stack.adminApiKey, body);
      if (answer.status !== 201)
        throw new Error(`Creating a schedule: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.id as string;
    };
    const handoffSchedule = await createSchedule(scheduleBody('Bench hand-off', 'handoff', SEQUENTIAL));
    const mixSchedules: string[] = [];
    for (let n = 0; n < Math.min(20, EXECUTIONS); n++) {
      mixSchedules.push(await createSchedule(scheduleBody(`Bench mix ${n + 1}`, 'mix', MIX)));
    }

    const a = await handoffPhase(stack, call, workerKey, meter, progress, handoffSchedule);
    log(`(a) done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    const b = await throughputPhase(stack, call, workerKey, meter, progress, mixSchedules);
    problems = b.problems;
    log(`(b) done in ${((performance.now() - began) / 1000).toFixed(1)} s`);

    const replayStarted = performance.now();
    const replay = await replayWriteUnits(stack.dynamo, stack.proxy.writeLog(), 'bench-orch');
    const units = replay.units;
    const replayMs = performance.now() - replayStarted;

    // ---- a
    log();
    log(
      `(a) Hand-off latency, sequential schedule of ${sequential.steps} steps, ${a.handoffs.length} hand-offs`,
    );
    const row = (label: string, values: number[]) => {
      const s = stats(values);
      return [label, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.min), ms(s.max)];
    };
    table(
      ['ms', 'p50', 'p90', 'p99', 'min', 'max'],
      [
        row('hand-off: complete returned → next step claimed', a.handoffs),
        row('  of which complete returned → next step enqueued', a.toEnqueued),
        row('  of which enqueued → claim returned it', a.enqueuedToClaimed),
        row('complete call (POST …/complete)', a.completeCalls),
        row('run → first step claimed (POST …/run + claim)', a.firstClaims),
      ],
      (c) => c > 0,
    );
    log(
      '  The waiting worker long-polls (waitSeconds 20); the claim looks at the queue every 500 ms (WorkerService',
    );
    log(
      '  pollIntervalMs), and each step "runs" 20–520 ms (random) so completions fall anywhere in that cycle.',
    );

    // ---- b
    log();
    log(
      `(b) Throughput: ${EXECUTIONS} executions × ${mix.steps} steps, ${WORKER_LOOPS} worker loops (maxTasks ${MAX_TASKS}, waitSeconds ${THROUGHPUT_WAIT_SECONDS})`,
    );
    const exec = stats(b.executionMs);
    const runs = stats(b.runCalls);
    log(
      `  wall time ${(b.wallMs / 1000).toFixed(1)} s (first run request → last execution finished): ${fmt(b.window.steps / (b.wallMs / 1000), 1)} steps/s, ${fmt(EXECUTIONS / (b.wallMs / 1000), 1)} executions/s`,
    );
    log(
      `  execution queued → completed: p50 ${ms(exec.p50)} ms, p99 ${ms(exec.p99)} ms; POST /run: p50 ${ms(runs.p50)} ms, p99 ${ms(runs.p99)} ms`,
    );
    log(
      `  claims ${fmt(b.claimCalls)} (${fmt(b.emptyClaims)} empty, ${b.claimErrors} failed) for ${fmt(b.window.steps)} steps: ${trim(b.window.steps / Math.max(1, b.claimCalls - b.emptyClaims))} tasks per non-empty claim; complete retries ${b.completeRetries}`,
    );
    const refusals = new Map<string, number>();
    for (const c of b.window.calls.filter((c) => c.status !== 200)) {
      const key = `${signature(c)}: ${c.error}${c.reasons ? ` [${c.reasons.join(', ')}]` : ''}`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
    }
    log(`  DynamoDB refusals: ${refusals.size === 0 ? 'none' : ''}`);
    for (const [key, count] of [...refusals].sort(([, x], [, y]) => y - x)) {
      log(`    ${fmt(count)} × ${key}`);
    }
    log(
      problems.length === 0
        ? `  Verified: ${b.verified.executions} executions Completed with totalSteps ${mix.stages}; ${b.verified.steps} steps Completed once each (startedAt, completedAt, stages in order); every task claimed once and its completion accepted once; ${mix.steps} enqueues per execution`
        : `  VERIFICATION FAILED (${problems.length} problem(s)):`,
    );
    for (const problem of problems.slice(0, 20)) log(`    - ${problem}`);

    // ---- c
    // Lambda time priced per invocation kind at its unloaded mean: phase (a) ran one thing at a time; a
    // claim is priced as one that found its step queued (its long-poll waiting is idle cost, below).
    const priced = new Map<string, number>();
    for (const [key, list] of groupBy([...a.window.invocations, ...a.heartbeat.invocations], invocationKey)) {
      priced.set(key, sum(list.map((i) => i.ms)) / list.length);
    }
    const immediateClaim = sum(a.immediateClaims) / a.immediateClaims.length;
    priced.set('worker claimTasks', immediateClaim);
    const unitsA = perStep(a.window, units, priced);
    const unitsB = perStep(b.window, units, priced);
    const heartbeatWindow: Window = {
      label: 'heartbeat',
      calls: a.heartbeat.calls,
      invocations: a.heartbeat.invocations,
      steps: 5,
      executions: 0,
      stages: 0,
      stepsPerExecution: 1,
    };
    const beat = perStep(heartbeatWindow, units, priced);
    log();
    log(`(c) Per step: DynamoDB requests — ${a.window.label} (one worker: no contention)`);
    printSignatures(a.window, units);
    log();
    log(`(c) Per step: DynamoDB requests — ${b.window.label}`);
    printSignatures(b.window, units);
    log();
    log('Lambda invocations (ms: in-process handler time as run; (b) ran on 2 saturated cores)');
    printLambdas(a.window, b.window);
    log();
    log(
      `Step Functions state transitions (Standard bills every state entered, retries included; the start and end of an execution are not states):`,
    );
    log(
      '  computed from the ASL: per execution (S stages, N steps, no wait, no failure) = Advance (S+1) + Route (S+1) + RunStage Map (S)',
    );
    log(
      '                         + RunStep (N) + Finished (1) = 3S + N + 3; a park adds 3 (Park, Advance, Route) per wake-up or timeout, a failed step 1 (StepFailed)',
    );
    table(
      ['', 'S', 'N', 'computed/execution', 'computed/step', 'measured/step'],
      [
        [
          a.window.label,
          String(sequential.stages),
          String(sequential.steps),
          String(transitionsPerExecution(sequential.stages, sequential.steps)),
          trim(unitsA.transitionsComputed),
          trim(unitsA.transitionsMeasured),
        ],
        [
          b.window.label,
          String(mix.stages),
          String(mix.steps),
          String(transitionsPerExecution(mix.stages, mix.steps)),
          trim(unitsB.transitionsComputed),
          trim(unitsB.transitionsMeasured),
        ],
      ],
      (c) => c > 0,
    );
    log(
      '  measured = implied by the orchestrator invocations counted (Advance calls, +2 per answered Advance, +1 per enqueueStep/stepFailed).',
    );
    log();
    table(
      [
        'Per step',
        'API req',
        'Lambda inv',
        'GB-s as run',
        'of which claim',
        'GB-s priced',
        'DDB reads',
        'RRU',
        'DDB writes',
        'WRU (AWS)',
        'WCU (Local says)',
        'failed DDB req',
      ],
      [
        ...[
          [a.window.label, unitsA],
          [b.window.label, unitsB],
          ['one heartbeat (measured alone)', beat],
        ].map(([label, u]) => {
          const p = u as PerStep;
          return [
            label as string,
            trim(p.apiRequests),
            trim(p.lambdaRequests),
            p.lambdaGbSeconds.toFixed(3),
            p.claimGbSeconds.toFixed(3),
            p.pricedGbSeconds.toFixed(3),
            trim(p.ddbReads),
            trim(p.rru),
            trim(p.ddbWrites),
            trim(p.wru),
            trim(p.wcuReportedLocally),
            trim(p.failedRequests),
          ];
        }),
      ],
      (c) => c > 0,
    );
    log(
      `  GB-s as run = in-process handler time × ${LAMBDA_MB} MB as it happened: in (a) each claim long-polls until the next step`,
    );
    log(
      '  is queued; in (b) every handler also queues for the 2 saturated cores. GB-s priced = each invocation at the mean time of',
    );
    log(
      `  its kind measured in (a) (one thing at a time), a claim at ${ms(immediateClaim)} ms (one that found its step queued, measured alone).`,
    );
    const plain = [...a.window.calls, ...a.heartbeat.calls, ...b.window.calls].filter(
      (c) => c.write && c.status === 200 && c.operation !== 'TransactWriteItems',
    );
    log(
      `  Replay check: ${fmt(replay.check.items)} items rebuilt, ${replay.check.different} different from the originals; the ${plain.length} non-transactional writes`,
    );
    log(
      `  replayed to ${trim(sum(plain.map((c) => units.get(c.seq)?.aws ?? Number.NaN)))} WRU; DynamoDB Local reported ${trim(sum(plain.map((c) => c.capacity)))} WCU for them.`,
    );
    if (replay.check.different > 0) {
      problems.push(`the write replay rebuilt ${replay.check.different} item(s) differently`);
    }
    log(
      `  WRU (AWS) = writes replayed one item at a time (${fmt(stack.proxy.writeLog().length)} logged writes, ${(replayMs / 1000).toFixed(1)} s): table arm ×2 in transactions,`,
    );
    log(
      '  index arms ×1. "Local says" = DynamoDB Local\'s own figure, wrong for TransactWriteItems (see write-units.ts).',
    );

    // ---- d
    log();
    log(`(d) Cost per million steps — ${PRICES.asOf}:`);
    log(
      '    Step Functions Standard $0.025 per 1,000 transitions; Lambda $0.20 per million requests + $0.0000166667 per GB-s (x86);',
    );
    log(
      '    API Gateway REST $3.50 per million requests; DynamoDB on-demand $0.625 per million WRU, $0.125 per million RRU.',
    );
    log(
      `  Units per step are the measured ones above plus ${HEARTBEATS_PER_STEP} heartbeat(s) per step (API request, 2 Lambda invocations and its DynamoDB`,
    );
    log(
      '  requests, measured alone); transitions are the computed ones (they match the measured). Lambda duration: "GB-s priced"',
    );
    log(
      `  above, i.e. measured local handler times (unloaded) at an assumed ${LAMBDA_MB} MB; real Lambda times differ (network to DynamoDB,`,
    );
    log(
      '  cold starts). Not priced: cancelled transactions (AWS reports no capacity for them), CloudWatch, data transfer, free tiers.',
    );
    printCosts(
      [
        { label: '(a) sequential', units: unitsA },
        { label: '(b) mix', units: unitsB },
      ],
      beat,
    );
    const idleCalls = a.idle.calls.filter((c) => c.status === 200);
    const queueCalls = idleCalls.filter((c) => c.index === WorkerTaskIndex.poolQueued);
    const idleQueries = queueCalls.length;
    const scale = HANDOFF_WAIT_SECONDS / IDLE_SECONDS;
    // Queue queries scale with the wait; the authorizer's read is once per claim.
    const idleRru =
      sum(queueCalls.map((c) => c.capacity)) * scale +
      sum(idleCalls.filter((c) => c.index !== WorkerTaskIndex.poolQueued).map((c) => c.capacity));
    const polls = (30 * 86_400) / HANDOFF_WAIT_SECONDS;
    const idleLambdaMs = sum(a.idle.invocations.map((i) => i.ms)) * (HANDOFF_WAIT_SECONDS / IDLE_SECONDS);
    const idleMonth = {
      api: polls * PRICES.apiRequest,
      lambda:
        polls * 2 * PRICES.lambdaRequest +
        polls * (idleLambdaMs / 1000) * (LAMBDA_MB / 1024) * PRICES.lambdaGbSecond,
      ddb: polls * idleRru * PRICES.readRequestUnit,
    };
    log();
    log(
      `Idle worker (measured: one ${IDLE_SECONDS} s claim on an empty pool = ${idleQueries} queue queries + 1 authorizer read, ${ms(sum(a.idle.invocations.map((i) => i.ms)))} ms of Lambda; scaled to ${HANDOFF_WAIT_SECONDS} s: ${trim(idleRru)} RRU),`,
    );
    log(
      `  long-polling ${HANDOFF_WAIT_SECONDS} s at a time for 30 days: ${fmt(polls)} claims → $${fmt(idleMonth.api, 2)} API Gateway + $${fmt(idleMonth.lambda, 2)} Lambda + $${fmt(idleMonth.ddb, 2)} DynamoDB = $${fmt(idleMonth.api + idleMonth.lambda + idleMonth.ddb, 2)} per worker-month`,
    );
    log();
    log(
      `Orchestration part: ${((performance.now() - began) / 1000).toFixed(1)} s; load average (1 min) ${loadavg()[0]?.toFixed(2)} at the end`,
    );
  } finally {
    await stack.stop();
  }
  return problems.length === 0;
}
