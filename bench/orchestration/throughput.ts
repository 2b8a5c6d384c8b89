import { type CpuWindow, cpuWindow, referenceWorkMs } from '../cpu.js';
import { sleep } from '../measure.js';
import type { PhaseContext } from './progress.js';
import { enqueuedByStateMachine, MIX, shapeOf } from './schedules.js';
import { EXECUTIONS, MAX_TASKS, THROUGHPUT_WAIT_SECONDS, WORKER_LOOPS } from './settings.js';
import { transitionsEntered, type Window } from './units.js';
import { spawnLoops } from './worker-loops.js';

// ---- Phase b: throughput and correctness ------------------------------------------------------------------

/**
 * The processes whose CPU is the service's own: this one (local API Gateway, handlers, local Step
 * Functions and SQS) and DynamoDB Local. The others are the bench's: its meter and its workers.
 */
export const SERVICE_PROCESSES = ['Node', 'DynamoDB Local'] as const;

export interface ThroughputResult {
  window: Window;
  wallMs: number;
  /** CPU of this process and of DynamoDB Local over the run, and this process's event loop. */
  cpu: CpuWindow;
  /** The machine's speed just before and after the run (cpu.ts `referenceWorkMs`). */
  referenceMs: [number, number];
  runCalls: number[];
  executionMs: number[];
  claimCalls: number;
  emptyClaims: number;
  claimErrors: number;
  completeRetries: number;
  problems: string[];
  verified: { executions: number; steps: number };
}

export async function throughputPhase(
  context: PhaseContext,
  scheduleIds: string[],
): Promise<ThroughputResult> {
  const { stack, call, workerKey, meter, progress } = context;
  const pool = 'mix';
  const shape = shapeOf(MIX);
  const expectedSteps = EXECUTIONS * shape.steps;
  const problems: string[] = [];
  const executionIds = new Set<string>();
  const loops = await spawnLoops();

  const referenceBefore = referenceWorkMs();
  await stack.proxy.take();
  meter.take();
  const cpu = cpuWindow({
    [SERVICE_PROCESSES[0]]: process.pid,
    [SERVICE_PROCESSES[1]]: stack.dynamoPid,
    'worker loops': loops.pid,
    'counting proxy': stack.proxy.pid,
  });
  const started = performance.now();
  const { done, arm } = progress.all(executionIds);
  loops.start({
    apiUrl: stack.apiUrl,
    workerKey,
    pool,
    loops: WORKER_LOOPS,
    maxTasks: MAX_TASKS,
    waitSeconds: THROUGHPUT_WAIT_SECONDS,
  });
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
  const cpuUsed = cpu.end();
  const referenceMs: [number, number] = [referenceBefore, referenceWorkMs()];
  const window: Window = {
    label: `(b) ${EXECUTIONS} executions, ${WORKER_LOOPS} workers`,
    calls: await stack.proxy.take(),
    invocations: meter.take(),
    steps: expectedSteps,
    executions: EXECUTIONS,
    shape,
    transitions: transitionsEntered([...executionIds], stack),
  };
  if (outcome === 'timeout')
    problems.push(`not finished after 240 s: ${progress.finishedAt.size} of ${EXECUTIONS}`);

  const seen = await loops.stop();
  problems.push(...seen.problems);
  const claimed = new Map(seen.claims.map((claim) => [claim.taskId, claim]));
  const accepted = new Map(seen.accepted);
  for (let n = 0; n < 100 && meter.inFlight('claims') > 0; n++) await sleep(100);

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
        if ((enqueues.get(id) ?? 0) !== enqueuedByStateMachine(shape)) {
          problems.push(`${where}: ${enqueues.get(id) ?? 0} steps enqueued by the state machine`);
        }
        if (e.completedAt && e.queuedAt) executionMs.push(Date.parse(e.completedAt) - Date.parse(e.queuedAt));
      }
    }),
  );
  return {
    window,
    wallMs,
    cpu: cpuUsed,
    referenceMs,
    runCalls,
    executionMs,
    claimCalls: seen.claimCalls,
    emptyClaims: seen.emptyClaims,
    claimErrors: seen.claimErrors,
    completeRetries: seen.completeRetries,
    problems,
    verified: { executions: ids.length, steps: verifiedSteps },
  };
}
