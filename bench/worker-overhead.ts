import childProcess, { type ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { startLocalStack } from '../local/stack.js';
import { WorkerAgent } from '../worker/agent.js';
import { WorkerApiClient } from '../worker/api-client.js';
import { parseWorkerConfig } from '../worker/config.js';
import { silentLogger } from '../worker/log.js';
import { apiCaller, createWorkerKey } from './api.js';
import { log, percentile } from './measure.js';

/**
 * The worker agent's own overhead per task (`npm run bench`, or `BENCH_ONLY=worker`): a fresh local stack
 * (state machine hold 1 s, reconciler off) and a real in-process WorkerAgent (concurrency 1, 2 s long polls) running
 * Executable steps of `/bin/true`, one task per claim. Nothing in worker/ is changed; the instrumentation is
 *   - the `client` option: a real WorkerApiClient whose `claim` and `complete` are wrapped with timestamps;
 *   - `child_process.spawn` wrapped (and synced into the ESM bindings the worker imports), timestamping the
 *     return of spawn and the child's `exit` event.
 * Per task: claim returned → spawn returned (parse, runner, heartbeat set-up, spawn itself), exit → complete
 * call made (the agent's wrap-up: stdio close, outcome, log), exit → complete returned (wrap-up plus the
 * HTTP round trip to the local API), and claim returned → complete returned (everything, including
 * /bin/true itself). With concurrency 1 the tasks are strictly sequential, so events pair up in order.
 *
 * Environment: BENCH_WORKER_TASKS (100).
 */

const TASKS = Number(process.env.BENCH_WORKER_TASKS ?? 100);
if (!Number.isSafeInteger(TASKS) || TASKS < 1) throw new Error('BENCH_WORKER_TASKS: a whole number ≥ 1');
const POOL = 'bench-worker-overhead';
const BIN_TRUE = '/bin/true';

const now = () => performance.now();

interface Marks {
  claimed: number;
  spawned?: number;
  exited?: number;
  completeCalled?: number;
  completeReturned?: number;
}

/** Wraps `child_process.spawn` so the worker's `import { spawn }` sees the wrapper; returns the undo. */
function instrumentSpawn(onSpawn: (at: number, child: ChildProcess) => void): () => void {
  const original = childProcess.spawn;
  const wrapped = ((...args: Parameters<typeof original>) => {
    const child = original(...args);
    onSpawn(now(), child);
    return child;
  }) as typeof original;
  childProcess.spawn = wrapped;
  syncBuiltinESMExports();
  return () => {
    childProcess.spawn = original;
    syncBuiltinESMExports();
  };
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
};

/** Returns false when the measurement could not be completed. */
export async function runWorkerOverheadBench(): Promise<boolean> {
  const began = now();
  log(
    `Worker agent overhead: ${TASKS} Executable tasks of ${BIN_TRUE}, one in-process WorkerAgent (concurrency 1), local stack`,
  );
  log(`Node ${process.version}, ${cpus().length} CPU(s); load average (1 min) ${loadavg()[0]?.toFixed(2)}`);
  const stack = await startLocalStack({
    port: 0,
    waitSeconds: 1,
    reconcileEveryMs: 0,
    cronTrigger: false,
    changeFeed: false,
  });
  const tasks: Marks[] = [];
  const byTask = new Map<string, Marks>();
  let current: Marks | undefined;
  const undoSpawn = instrumentSpawn((at, child) => {
    const marks = current;
    if (!marks || marks.spawned !== undefined) return;
    marks.spawned = at;
    child.once('exit', () => {
      marks.exited = now();
    });
  });
  let agent: WorkerAgent | undefined;
  const call = apiCaller(stack.apiUrl);
  try {
    const workerKey = await createWorkerKey(call, stack.adminApiKey, 'bench-worker-overhead');

    const config = parseWorkerConfig(
      { apiUrl: stack.apiUrl, workerId: 'bench-worker', pools: [POOL], concurrency: 1, pollWaitSeconds: 2 },
      process.cwd(),
    );
    const client = new WorkerApiClient({
      apiUrl: stack.apiUrl,
      apiKey: workerKey,
      userAgent: 'schedule-worker (bench)',
      logger: silentLogger,
    });
    const claim = client.claim.bind(client);
    client.claim = async (...args) => {
      const claimed = await claim(...args);
      const at = now();
      for (const raw of claimed) {
        const marks: Marks = { claimed: at };
        const taskId = (raw as { taskId?: string }).taskId;
        if (taskId) byTask.set(taskId, marks);
        tasks.push(marks);
        current = marks;
      }
      return claimed;
    };
    const complete = client.complete.bind(client);
    client.complete = async (taskId, ...rest) => {
      const marks = byTask.get(taskId);
      if (marks) marks.completeCalled = now();
      const answer = await complete(taskId, ...rest);
      if (marks) marks.completeReturned = now();
      return answer;
    };

    const schedule = await call('POST', '/schedules', stack.adminApiKey, {
      name: 'Worker overhead bench',
      triggerType: 'Manual',
      overlapPolicy: 'AllowAll',
      steps: [
        {
          name: 'true',
          stepType: 'Executable',
          executablePath: BIN_TRUE,
          timeoutSeconds: 60,
          workerPool: POOL,
        },
      ],
    });
    if (schedule.status !== 201)
      throw new Error(`Creating the schedule: ${schedule.status} ${JSON.stringify(schedule.body)}`);

    let ended = 0;
    let failures = 0;
    let allDone: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    agent = new WorkerAgent({
      config,
      apiKey: workerKey,
      client,
      logger: silentLogger,
      onTaskEnd: (end) => {
        ended += 1;
        if (end.outcome.activityStatus !== 'Complete' || !end.accepted) failures += 1;
        if (ended >= TASKS) allDone();
      },
    });
    agent.start();

    // Executions are started one by one, each after the previous task ended, so the worker's long poll is
    // waiting when a task arrives and claims carry one task each.
    for (let n = 0; n < TASKS; n++) {
      const target = n;
      const started = await call('POST', `/schedules/${schedule.body.id}/run`, stack.adminApiKey);
      if (started.status !== 202) throw new Error(`Running the schedule: ${started.status}`);
      const deadline = Date.now() + 30_000;
      while (ended <= target) {
        if (Date.now() > deadline) throw new Error(`Task ${n + 1} did not end within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    await finished;

    const complete_ = tasks.filter(
      (t): t is Required<Marks> =>
        t.spawned !== undefined &&
        t.exited !== undefined &&
        t.completeCalled !== undefined &&
        t.completeReturned !== undefined,
    );
    if (complete_.length !== TASKS || failures > 0) {
      log(`Incomplete measurement: ${complete_.length}/${TASKS} tasks fully timed, ${failures} not Complete`);
      return false;
    }
    const rows: [string, number[]][] = [
      ['claim returned → process spawned', complete_.map((t) => t.spawned - t.claimed)],
      ['process spawned → process exited (/bin/true)', complete_.map((t) => t.exited - t.spawned)],
      ['process exited → complete called', complete_.map((t) => t.completeCalled - t.exited)],
      [
        'complete called → complete returned (HTTP)',
        complete_.map((t) => t.completeReturned - t.completeCalled),
      ],
      ['process exited → complete reported', complete_.map((t) => t.completeReturned - t.exited)],
      ['claim returned → complete reported (total)', complete_.map((t) => t.completeReturned - t.claimed)],
      [
        'worker overhead (total − process lifetime − complete HTTP)',
        complete_.map((t) => t.spawned - t.claimed + (t.completeCalled - t.exited)),
      ],
    ];
    log();
    const width = Math.max(...rows.map(([label]) => label.length));
    log(
      `${'Per task'.padEnd(width)}  ${'p50 ms'.padStart(8)}  ${'p99 ms'.padStart(8)}  ${'max ms'.padStart(8)}`,
    );
    log(`${'-'.repeat(width)}  ${'-'.repeat(8)}  ${'-'.repeat(8)}  ${'-'.repeat(8)}`);
    for (const [label, values] of rows) {
      const s = stats(values);
      log(
        `${label.padEnd(width)}  ${s.p50.toFixed(2).padStart(8)}  ${s.p99.toFixed(2).padStart(8)}  ${s.max.toFixed(2).padStart(8)}`,
      );
    }
    log();
    log(
      `${TASKS} tasks, all Complete and accepted; timestamps from performance.now() in the worker's process.`,
    );
    log(
      '"complete returned" includes the local API (gateway, handler, DynamoDB Local, state machine callback):',
    );
    log('it is the service side, not the worker; the overhead row leaves it and the process lifetime out.');
    log(
      `Worker part: ${((now() - began) / 1000).toFixed(1)} s; load average (1 min) ${loadavg()[0]?.toFixed(2)} at the end`,
    );
    return true;
  } finally {
    await agent?.stop({ graceSeconds: 0 });
    undoSpawn();
    // The service side of the agent's last long poll outlives the agent's abort: let it end first.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await stack.stop();
  }
}
