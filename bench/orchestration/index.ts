import { cpus, loadavg } from 'node:os';
import { apiCaller, createWorkerKey } from '../api.js';
import { instrumentLambdas } from '../lambdas.js';
import { log } from '../measure.js';
import { startBenchStack } from '../stack.js';
import { replayWriteUnits } from '../write-units.js';
import { handoffPhase } from './handoff.js';
import { Progress } from './progress.js';
import { printOrchestrationReport } from './report.js';
import { MIX, SEQUENTIAL, scheduleBody, shapeOf } from './schedules.js';
import { EXECUTIONS, HANDOFFS, MAX_TASKS, WORKER_LOOPS } from './settings.js';
import { throughputPhase } from './throughput.js';

/**
 * Orchestration figures (`npm run bench`, or `BENCH_ONLY=orchestration`): a fresh local stack (state
 * machine hold 1 s, default heartbeat, reconciler off, counting proxy in front of DynamoDB Local),
 * driven over HTTP by workers with a Worker key exactly as test/helpers/test-worker.ts does.
 *
 *   a. Hand-off latency between sequential steps: a worker long-polls the pool before the previous
 *      step's completion is reported; measured from the complete call returning to the claim returning
 *      the next step.
 *   b. Throughput and correctness: BENCH_EXECUTIONS executions × 5 steps (steps 2 and 3 parallel with
 *      step 1) run to completion by BENCH_WORKERS concurrent worker loops (in a child process:
 *      worker-loops.ts); every execution, step, claim and completion is checked: any loss or duplicate
 *      fails the process. CPU per step of each process (cpu.ts) says what bounds the rate.
 *   c. Per step: DynamoDB requests, RRU and WRU (AWS rules, see write-units.ts), Lambda invocations and
 *      Step Functions state transitions (computed from the ASL, cross-checked against the states the
 *      local engine entered, LocalStack.statesEntered).
 *   d. Cost per million steps at public on-demand prices.
 *
 * Environment: BENCH_EXECUTIONS (200), BENCH_HANDOFFS (100), BENCH_WORKERS (20 loops),
 * BENCH_WORKER_MAX_TASKS (5), BENCH_LAMBDA_MB (512), BENCH_HEARTBEATS_PER_STEP (1), BENCH_IDLE_SECONDS (20).
 */
export async function runOrchestrationBench(): Promise<boolean> {
  const began = performance.now();
  const mix = shapeOf(MIX);
  log(
    `Orchestration benchmark: ${HANDOFFS} hand-offs; ${EXECUTIONS} executions × ${mix.steps} steps (${mix.stages} stages: steps 1–3 in parallel, then 4, then 5) with ${WORKER_LOOPS} worker loops claiming up to ${MAX_TASKS} tasks`,
  );
  log(
    `Node ${process.version}, ${cpus().length} CPU(s); one process: local API Gateway, handlers, local Step Functions (hold 1 s, heartbeat 120 s, reconciler off); (b)'s worker loops in a child process (workers on other machines); DynamoDB Local in memory behind the counting proxy (a child process too: the bench's meter)`,
  );
  const stack = await startBenchStack({ waitSeconds: 1, tablePrefix: 'bench-orch', logWrites: true });
  let problems: string[] = [];
  try {
    const call = apiCaller(stack.apiUrl);
    const meter = await instrumentLambdas();
    // The handlers' own services (same module instance, built on first use): decisions are watched there.
    // Imported only once the stack has set the functions' environment (as local/stack.ts does): the
    // handlers' modules read it when loaded (functions/tracer.ts: no tracer, no X-Ray SDK hooks).
    const { getServices } = await import('../../functions/environment.js');
    const progress = new Progress(meter, getServices().orchestrator);
    const workerKey = await createWorkerKey(call, stack.adminApiKey, 'bench-worker');
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

    const context = { stack, call, workerKey, meter, progress };
    const a = await handoffPhase(context, handoffSchedule);
    log(`(a) done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    const b = await throughputPhase(context, mixSchedules);
    problems = b.problems;
    log(`(b) done in ${((performance.now() - began) / 1000).toFixed(1)} s`);

    const replayStarted = performance.now();
    const writeLog = await stack.proxy.writeLog();
    const replay = await replayWriteUnits(stack.dynamo, writeLog, 'bench-orch');
    const replayMs = performance.now() - replayStarted;

    printOrchestrationReport({
      a,
      b,
      problems,
      replay,
      replayMs,
      loggedWrites: writeLog.length,
    });
    if (replay.check.different > 0) {
      problems.push(`the write replay rebuilt ${replay.check.different} item(s) differently`);
    }
    log();
    log(
      `Orchestration part: ${((performance.now() - began) / 1000).toFixed(1)} s; load average (1 min) ${loadavg()[0]?.toFixed(2)} at the end`,
    );
  } finally {
    await stack.stop();
  }
  return problems.length === 0;
}
