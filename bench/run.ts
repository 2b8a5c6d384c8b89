import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import type { Schedule } from '../core/schemas/schedule.js';
import { ensureTables, localTableNames } from '../local/tables.js';
import { runBundleBench } from './bundles.js';
import { runConsoleBench } from './console.js';
import { generateExecution, guid, random, SCHEDULE_COUNT, scheduleInput, scheduleOf } from './data.js';
import { runDispatchBench } from './dispatch.js';
import {
  apiClient,
  exercise,
  log,
  percentile,
  runScenario,
  type Scenario,
  type ScenarioResult,
  table,
  trim,
} from './measure.js';
import { runOrchestrationBench } from './orchestration/index.js';
import { checkItemsMatchStore, seedExecutions } from './seed.js';
import { type BenchStack, startBenchStack } from './stack.js';
import { runWorkerOverheadBench } from './worker-overhead.js';

/**
 * `npm run bench`: read cost of the execution endpoints with 10,000 and 100,000 stored executions, then
 * the orchestration figures (orchestration/: hand-off latency, throughput, cost per step), all local.
 * BENCH_ONLY=reads, orchestration, worker, dispatch, bundles or console runs one part (worker-overhead.ts: the worker agent's
 * own overhead per task; dispatch.ts: one cron tick over 1,000 and 10,000 due schedules; bundles.ts: each Lambda
 * bundle's size and module-load time; console.ts: the operator console's first render in Chromium and its
 * bundle's gzip size). The orchestration and worker parts run in processes of their
 * own: the handlers build their services once per process, from the environment of the first stack.
 *
 * Reads: DynamoDB Local runs in memory, the real handlers serve HTTP behind the local API Gateway,
 * and a counting proxy between handlers and DynamoDB Local records every DynamoDB request and its
 * consumed capacity (see dynamo-proxy.ts). Executions are seeded straight into the tables (seed.ts).
 *
 * Environment: BENCH_SIZES (default "10000,100000"), BENCH_REQUESTS (measured calls per scenario,
 * default 200), BENCH_WARMUP (unmeasured calls before them, default 20), BENCH_GLOBAL_WARMUP (unmeasured
 * calls per scenario once before the first size, default 100), BENCH_READS (comma-separated label
 * fragments: only the read scenarios whose label contains one, e.g. "status=,from/to"; default all).
 */

const sizes = [
  ...new Set(
    (process.env.BENCH_SIZES ?? '10000,100000').split(',').map((s) => Number(s.trim().replace(/_/g, ''))),
  ),
].sort((a, b) => a - b);
if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1_000)) {
  throw new Error('BENCH_SIZES: comma-separated whole numbers of at least 1000, e.g. 10000,100000');
}
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const PAGE_SIZE = 20;
/** Calls per scenario, once, before the first size is measured. */
const GLOBAL_WARMUP = Number(process.env.BENCH_GLOBAL_WARMUP ?? 100);
const READS = process.env.BENCH_READS?.split(',').map((s) => s.trim());

const fmt = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function createSchedules(stack: BenchStack): Promise<Schedule[]> {
  const schedules: Schedule[] = [];
  for (let n = 0; n < SCHEDULE_COUNT; n++) {
    const response = await fetch(`${stack.apiUrl}/schedules`, {
      method: 'POST',
      headers: { 'x-api-key': stack.adminApiKey, 'content-type': 'application/json' },
      body: JSON.stringify(scheduleInput(n)),
    });
    if (response.status !== 201)
      throw new Error(`Creating a schedule: ${response.status} ${await response.text()}`);
    schedules.push((await response.json()) as Schedule);
  }
  return schedules;
}

/** Writes one execution through the real store into scratch tables and compares with the seeder's items. */
async function checkSeeder(stack: BenchStack, client: DynamoDBDocumentClient, schedule: Schedule) {
  const scratch = localTableNames('bench-check');
  const admin = new DynamoDBClient(stack.dynamo);
  await ensureTables(admin, scratch);
  try {
    await checkItemsMatchStore(client, scratch, schedule);
  } finally {
    for (const table of Object.values(scratch))
      await admin.send(new DeleteTableCommand({ TableName: table }));
    admin.destroy();
  }
}

/**
 * Round trips of the same GetItem, direct and through the proxy, interleaved so that drift (JIT, GC)
 * hits both alike. Returns both medians: the proxy's cost, and DynamoDB Local's own floor per request.
 */
async function proxyOverhead(stack: BenchStack): Promise<{ direct: number; proxied: number }> {
  const direct = createDocumentClient(stack.dynamo);
  const proxied = createDocumentClient({ ...stack.dynamo, endpoint: stack.proxy.endpoint });
  const times = { direct: [] as number[], proxied: [] as number[] };
  const get = new GetCommand({
    TableName: stack.tables.counters,
    Key: { id: 'executions#0' },
    ConsistentRead: true,
  });
  for (let n = 0; n < 600; n++) {
    for (const [name, client] of [
      ['direct', direct],
      ['proxied', proxied],
    ] as const) {
      const started = performance.now();
      await client.send(get);
      if (n >= 100) times[name].push(performance.now() - started);
    }
  }
  direct.destroy();
  proxied.destroy();
  await stack.proxy.take();
  const median = (values: number[]) =>
    percentile(
      values.sort((a, b) => a - b),
      0.5,
    );
  return { direct: median(times.direct), proxied: median(times.proxied) };
}

let round = 0;

function scenarios(size: number, hot: Schedule, hotCount: number): Scenario[] {
  const list = (query: string) => `/schedule-executions?${query}`;
  const fullPage = (body: Record<string, unknown>) => {
    if ((body.items as unknown[]).length !== PAGE_SIZE)
      throw new Error(`expected a full page: ${JSON.stringify(body)}`);
  };
  // Other executions on every round (warm-up, measurement), so none is read twice by design.
  const pick = random(size * 31 + round++);
  const walk = (rank: number, from: number): Scenario => ({
    label: 'list ?nextToken=',
    rank,
    size,
    stored: fmt(size),
    next: (previous, n) =>
      n === 0
        ? list(`page=${from}&pageSize=${PAGE_SIZE}`)
        : previous?.nextToken
          ? list(`pageSize=${PAGE_SIZE}&nextToken=${encodeURIComponent(String(previous.nextToken))}`)
          : undefined,
    check: fullPage,
  });
  const totalPages = Math.ceil(size / PAGE_SIZE);
  const filtered = `${fmt(hotCount)} of ${fmt(size)}`;
  // The newest day and week of history: the same ranges (and so the same counts) at every size.
  const newest = Date.parse(generateExecution(0, hot).execution.queuedAt);
  const since = (days: number) =>
    `from=${new Date(newest - days * 86_400_000).toISOString()}&to=${new Date(newest).toISOString()}`;
  const all: Scenario[] = [
    {
      label: 'GET /schedule-executions/{id}',
      rank: 0,
      size,
      stored: fmt(size),
      // A different execution each call, anywhere in the history.
      next: () => `/schedule-executions/${guid(1, Math.floor(pick() * size))}`,
      check: (body) => {
        if ((body.steps as unknown[]).length !== 3)
          throw new Error(`expected 3 steps: ${JSON.stringify(body)}`);
      },
    },
    {
      label: 'list page=1',
      rank: 1,
      size,
      stored: fmt(size),
      next: () => list(`page=1&pageSize=${PAGE_SIZE}`),
      check: fullPage,
    },
    {
      label: 'list page=50',
      rank: 2,
      size,
      stored: fmt(size),
      next: () => list(`page=50&pageSize=${PAGE_SIZE}`),
      check: fullPage,
    },
    {
      label: 'list scheduleId= page=1',
      rank: 3,
      size,
      stored: filtered,
      next: () => list(`scheduleId=${hot.id}&page=1&pageSize=${PAGE_SIZE}`),
      check: fullPage,
    },
    {
      label: 'list scheduleId= page=50',
      rank: 4,
      size,
      stored: filtered,
      next: () => list(`scheduleId=${hot.id}&page=50&pageSize=${PAGE_SIZE}`),
      check: fullPage,
    },
    // From the start, then from deep in the history (past the page-number limit when there is one).
    walk(5, 1),
    walk(6, Math.min(501, Math.floor(totalPages / 2))),
    // Filtered lists: merged status#initiatedByType cells, totalCount from the cells' counters (or,
    // for from/to, from counting the range's keys).
    ...[
      { filter: 'status=Failed', stored: fmt(size) },
      { filter: 'status=Completed,Failed', stored: fmt(size) },
      { filter: `scheduleId=${hot.id}&status=Failed`, label: 'scheduleId= status=Failed', stored: filtered },
      { filter: since(1), label: 'from/to (1 day)', stored: fmt(size) },
      { filter: `status=Failed&${since(7)}`, label: 'status=Failed from/to (7 days)', stored: fmt(size) },
    ].map(
      ({ filter, label, stored }, n): Scenario => ({
        label: `list ${label ?? filter} page=1`,
        rank: 7 + n,
        size,
        stored,
        next: () => list(`${filter}&page=1&pageSize=${PAGE_SIZE}`),
        check: fullPage,
      }),
    ),
  ];
  return READS ? all.filter((scenario) => READS.some((part) => scenario.label.includes(part))) : all;
}

function printTable(results: ScenarioResult[]) {
  const header = [
    'Scenario',
    'N stored',
    'p50 ms',
    'p99 ms',
    'DDB req/call',
    'RCU/call',
    'DynamoDB requests per call',
  ];
  const rows = results.map((r) => [
    r.pages && r.label.includes('nextToken') ? `${r.label} (pages ${r.pages[0]}–${r.pages[1]})` : r.label,
    r.stored,
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.requests.min === r.requests.max
      ? trim(r.requests.mean)
      : `${trim(r.requests.mean)} (${r.requests.min}–${r.requests.max})`,
    r.rcu.min === r.rcu.max
      ? trim(r.rcu.mean)
      : `${trim(r.rcu.mean)} (${trim(r.rcu.min)}–${trim(r.rcu.max)})`,
    r.operations,
  ]);
  const right = new Set([1, 2, 3, 4, 5]);
  table(
    header,
    rows,
    (c) => right.has(c),
    (i) => i > 0 && results[i]?.rank !== results[i - 1]?.rank,
  );
}

async function reads(began: number) {
  const startLoad = loadavg()[0]?.toFixed(2);
  log(
    `Execution read benchmark: sizes ${sizes.map(fmt).join(', ')}; ${REQUESTS} sequential calls per scenario after ${WARMUP} warm-up calls`,
  );
  log(
    `Node ${process.version}, ${cpus().length} CPU(s); DynamoDB Local in memory; handlers in process behind the local API Gateway`,
  );
  const stack = await startBenchStack();
  try {
    const seedClient = createDocumentClient(stack.dynamo);
    const schedules = await createSchedules(stack);
    await checkSeeder(stack, seedClient, schedules[0] as Schedule);
    log(`Seeder check: items written by bench/seed.ts equal those of DynamoExecutionStore.create`);
    const trip = await proxyOverhead(stack);
    log(
      `One GetItem round trip (p50): ${trip.direct.toFixed(2)} ms direct to DynamoDB Local, ${trip.proxied.toFixed(2)} ms through the counting proxy (latencies below include the proxy)`,
    );

    const client = apiClient(stack.apiUrl, stack.adminApiKey, stack.proxy, stack.tables.apiKeys);
    const results: ScenarioResult[] = [];
    let seeded = 0;
    for (const size of sizes) {
      const seed = await seedExecutions(seedClient, stack.tables, schedules, seeded, size);
      log(
        `Seeded executions ${fmt(seeded)}–${fmt(size - 1)}: ${fmt(seed.written)} executions + ${fmt(3 * seed.written)} step rows in ${seconds(seed.ms)} → ${fmt(Math.round((seed.written / seed.ms) * 1000))} executions/s (${fmt(Math.round((4 * seed.written * 1000) / seed.ms))} items/s, BatchWriteItem)`,
      );
      seeded = size;
      let hotCount = 0;
      for (let i = 0; i < size; i++) if (scheduleOf(i) === 0) hotCount++;
      const started = performance.now();
      if (size === sizes[0]) {
        // Once, before the first measurement: warms the JITs of Node and of DynamoDB Local on the read
        // paths, so the first size is not measured colder than the next ones.
        for (const scenario of scenarios(size, schedules[0] as Schedule, hotCount)) {
          await exercise(client, scenario, GLOBAL_WARMUP);
        }
        await stack.proxy.take();
      }
      for (const scenario of scenarios(size, schedules[0] as Schedule, hotCount)) {
        results.push(await runScenario(client, scenario, WARMUP, REQUESTS));
      }
      log(`Measured ${fmt(size)} in ${seconds(performance.now() - started)}`);
    }
    const authorizer = results[0]?.authorizer;
    log();
    printTable(results.sort((a, b) => a.rank - b.rank || a.size - b.size));
    log();
    log('Legend');
    log(
      '  N stored      executions in the table; for scheduleId= rows, those of the filtered (busiest) schedule of all.',
    );
    log(
      `  p50/p99 ms    wall time of one HTTP call to the local API (gateway, authorizer, handler, DynamoDB Local), over`,
    );
    log(
      `                ${REQUESTS} sequential calls after ${WARMUP} warm-ups (and ${GLOBAL_WARMUP} per scenario once, before the first size).`,
    );
    log(
      '                DynamoDB Local (Java, SQLite, ~3 ms a request) is not DynamoDB and there is no network:',
    );
    log('                compare rows with each other, not with production latencies.');
    log('  DDB req/call  DynamoDB requests the handler made per call (mean; range when calls differed).');
    log('  RCU/call      read capacity units the handler consumed per call, as DynamoDB Local reports them');
    log(
      '                (ReturnConsumedCapacity=TOTAL added by the proxy): per item rounded up to 4 KB for GetItem and',
    );
    log(
      '                BatchGetItem, per total size of the keys read for Query; consistent reads count 1, others 0.5.',
    );
    const wcu = results.reduce((sum, r) => sum + r.wcu, 0);
    log(
      wcu === 0
        ? '                No write capacity was consumed by any of these calls.'
        : `                WRITE capacity was consumed: ${results.map((r) => `${r.label} ${trim(r.wcu)} WCU/call`).join(', ')}.`,
    );
    log(
      `  Authorizer    not included above: each call also runs the REQUEST authorizer: ${trim(authorizer?.requests ?? Number.NaN)} DynamoDB request(s), ${trim(authorizer?.rcu ?? Number.NaN)} RCU (uncached).`,
    );
    log(
      '  Get, Query, BatchGet = GetItem, Query, BatchGetItem; "1×Get + 1×Query" ran in parallel for GET by id.',
    );
    log(
      "  nextToken rows: each call fetches the next page with the previous answer's token (measured pages shown).",
    );
    log();
    log(
      `Read part: ${seconds(performance.now() - began)}; load average (1 min) ${loadavg()[0]?.toFixed(2)} at the end, ${startLoad} at the start (other processes on the machine skew latencies, not counts)`,
    );
  } finally {
    await stack.stop();
  }
}

/** The parts that run in a child process each (alone with BENCH_ONLY=<name>); each answers whether it passed. */
const CHILD_PARTS = {
  orchestration: runOrchestrationBench,
  worker: runWorkerOverheadBench,
  dispatch: runDispatchBench,
  bundles: runBundleBench,
  console: runConsoleBench,
} as const satisfies Record<string, () => Promise<boolean>>;
type ChildPart = keyof typeof CHILD_PARTS;
const isChildPart = (name: string): name is ChildPart => Object.hasOwn(CHILD_PARTS, name);

/** A part (orchestration, worker …) in a child process (same Node, same tsx loader), its output inline. */
function partInChild(part: ChildPart): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_ONLY: part },
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const began = performance.now();
  const only = process.env.BENCH_ONLY;
  const parts = ['reads', ...Object.keys(CHILD_PARTS)];
  if (only !== undefined && !parts.includes(only)) {
    throw new Error(`BENCH_ONLY: one of ${parts.join(', ')} (unset: all of them)`);
  }
  if (only !== undefined && isChildPart(only)) {
    if (!(await CHILD_PARTS[only]())) process.exitCode = 1;
    return;
  }
  await reads(began);
  if (only === undefined) {
    for (const part of Object.keys(CHILD_PARTS).filter(isChildPart)) {
      log();
      const code = await partInChild(part);
      if (code !== 0) {
        log(`The ${part} part failed (exit code ${code}).`);
        process.exitCode = code;
      }
    }
    log();
    log(`Whole benchmark (reads + ${parts.join(' + ')}): ${seconds(performance.now() - began)}`);
  }
}

await main();
