import { cpus, loadavg } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import { ALL_DUE_PARTITIONS, DUE_PARTITIONS } from '../core/due-partitions.js';
import type { Clock, Workflow } from '../core/ports.js';
import { ScheduleInput } from '../core/schemas/schedule.js';
import { DEFAULT_DISPATCHER_SETTINGS, type DispatchReport } from '../core/services/dispatcher.js';
import { createServices } from '../core/services/index.js';
import { type DynamoConnection, type DynamoDbLocal, startDynamoDbLocal } from '../local/dynamodb-local.js';
import { ensureTables, localTableNames } from '../local/tables.js';
import { processCpuMs } from './cpu.js';
import { type DynamoCall, startCountingProxy } from './dynamo-proxy.js';
import { fmt, log, percentile, trim } from './measure.js';

/**
 * Cron dispatch figures (`npm run bench`, or `BENCH_ONLY=dispatch`): N enabled cron schedules all due at
 * the same fire time, one minute's dispatch (the real Dispatcher and ScheduleService over DynamoDB
 * Local, behind the counting proxy): one tick per due partition, concurrently, as the rule's targets
 * invoke it. Here all partitions share one process and two cores with DynamoDB Local; in AWS each is
 * a function of its own.
 *
 *   - dispatch time: from the tick starting to its last fire written (due-index read included);
 *   - fire-time-to-queued lag: each execution's `queuedAt` minus its fire time, with the tick starting
 *     exactly at the fire time (EventBridge's own delivery delay, typically seconds, comes on top);
 *   - DynamoDB requests per fire, by operation (under 1 TransactWriteItems a fire: the fires being
 *     recorded at once share transactions), and transaction conflicts retried;
 *   - CPU per fire, of this process (dispatcher, SDK, counting proxy) and of DynamoDB Local's JVM;
 *   - exactly once: every schedule has one execution and has moved on to its next fire time, else the
 *     process exits non-zero.
 * The clock is the real one shifted so that the tick starts at the fire time: time passes as it would.
 * StartExecution is a stub that returns at once (Step Functions cannot run here); in AWS it adds one
 * call of some tens of milliseconds per fire, spread over the dispatcher's concurrent lanes.
 *
 * Environment: BENCH_DISPATCH_SIZES ("1000,10000"); BENCH_DISPATCH_PROXY=off sends the requests
 * straight to DynamoDB Local (no counts), which gives the counting proxy's share of the Node CPU.
 */

const SIZES = (process.env.BENCH_DISPATCH_SIZES ?? '1000,10000').split(',').map((s) => Number(s.trim()));
if (SIZES.some((n) => !Number.isSafeInteger(n) || n < 1)) {
  throw new Error('BENCH_DISPATCH_SIZES: comma-separated whole numbers, e.g. 1000,10000');
}
const FIRE_TIME = Date.parse('2026-12-01T06:00:00.000Z');
const SEED_CONCURRENCY = 16;
/** Minutes of ticks before giving up: only a machine far slower than this one needs more than 3. */
const MAX_TICKS = 10;

/** The real clock, shifted: `at(t)` makes it read `t` now, and it runs on from there. */
class ShiftedClock implements Clock {
  private offset = 0;
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  at(time: number): void {
    this.offset = time - Date.now();
  }
}

/** Step Functions stand-in: counts the starts, answers at once. */
class CountingWorkflow implements Workflow {
  started = 0;
  async start() {
    this.started += 1;
  }
  async stop() {}
  async describe() {
    return undefined;
  }
  async sendTaskSuccess() {
    return true;
  }
  async sendTaskHeartbeat() {
    return true;
  }
}

const scheduleInput = (n: number) =>
  ScheduleInput.parse({
    name: `Dispatch bench ${n}`,
    triggerType: 'Cron',
    cronExpression: '0 6 * * *',
    timeZone: 'UTC',
    isEnabled: true,
    steps: [
      { name: 'Import', stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Delta Import' },
      { name: 'Sync', stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Delta Sync' },
      { name: 'Export', stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Export' },
    ],
  });

/** The partitions' reports of one minute as one. */
function combine(reports: readonly DispatchReport[]): DispatchReport {
  const total = { ...(reports[0] as DispatchReport), lagsMs: reports.flatMap((r) => r.lagsMs) };
  for (const report of reports.slice(1)) {
    for (const key of Object.keys(report) as (keyof DispatchReport)[]) {
      if (key !== 'lagsMs') total[key] += report[key];
    }
  }
  return total;
}

async function inLanes(count: number, lanes: number, work: (n: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

function byOperation(calls: readonly DynamoCall[], fires: number): string {
  const counts = new Map<string, number>();
  for (const call of calls) {
    const key = call.index ? `${call.operation}(${call.index})` : call.operation;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([operation, n]) => `${operation} ${trim(n / fires)}`)
    .join(', ');
}

/** Fresh tables and N enabled cron schedules, all next due at FIRE_TIME, created through the service. */
async function seed(dynamo: DynamoConnection, proxyEndpoint: string, size: number) {
  const tables = localTableNames(`dispatch${size}`);
  const admin = new DynamoDBClient(dynamo);
  // No streams: DynamoDB Local slows down as unread stream records pile up; in AWS a stream costs
  // a write nothing.
  await ensureTables(admin, tables, { streams: false });
  admin.destroy();
  const clock = new ShiftedClock();
  const workflow = new CountingWorkflow();
  const services = createServices(createDocumentClient({ ...dynamo, endpoint: proxyEndpoint }), tables, {
    workflow,
    clock,
  });
  clock.at(FIRE_TIME - 3_600_000);
  const began = performance.now();
  const ids: string[] = [];
  await inLanes(size, SEED_CONCURRENCY, async (n) => {
    ids.push((await services.schedules.create(scheduleInput(n))).id);
  });
  return { services, clock, workflow, ids, seedSeconds: (performance.now() - began) / 1000 };
}

export async function runDispatchBench(): Promise<boolean> {
  log('## Cron dispatch: one tick over N schedules due at the same minute');
  log(
    `Machine: ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )}; ${DUE_PARTITIONS} partitions dispatched at once, each with concurrency ${DEFAULT_DISPATCHER_SETTINGS.concurrency} and a budget of ${DEFAULT_DISPATCHER_SETTINGS.budgetMs / 1000} s`,
  );
  const dynamo = await startDynamoDbLocal();
  const proxy =
    process.env.BENCH_DISPATCH_PROXY === 'off'
      ? {
          endpoint: dynamo.connection.endpoint,
          pid: undefined,
          take: async () => [],
          stop: async () => undefined,
        }
      : await startCountingProxy(dynamo.connection.endpoint);
  let ok = true;
  try {
    for (const size of SIZES) ok = (await measure(dynamo, proxy, size)) && ok;
  } finally {
    await proxy.stop();
    await dynamo.stop();
  }
  return ok;
}

async function measure(
  local: DynamoDbLocal,
  proxy: Pick<Awaited<ReturnType<typeof startCountingProxy>>, 'endpoint' | 'pid' | 'take'>,
  size: number,
): Promise<boolean> {
  const dynamo = local.connection;
  const { services, clock, workflow, ids, seedSeconds } = await seed(dynamo, proxy.endpoint, size);
  log();
  log(`### ${fmt(size)} due schedules (seeded through ScheduleService.create in ${fmt(seedSeconds, 1)} s)`);
  await proxy.take();

  // The tick starts exactly at the fire time; a tick that leaves some for later is followed, as
  // EventBridge would, by the next minute's.
  clock.at(FIRE_TIME);
  const ticks: { report: DispatchReport; ms: number }[] = [];
  const cpuBefore = process.cpuUsage();
  const jvmBefore = processCpuMs(local.pid);
  const proxyBefore = processCpuMs(proxy.pid);
  const began = performance.now();
  for (let minute = 0; minute < MAX_TICKS; minute++) {
    if (minute > 0) clock.at(FIRE_TIME + minute * 60_000);
    const started = performance.now();
    // One invocation per due partition, concurrently, as the rule's targets run.
    const reports = await Promise.all(ALL_DUE_PARTITIONS.map((p) => services.dispatcher.tick([p])));
    const report = combine(reports);
    ticks.push({ report, ms: performance.now() - started });
    if (report.deferred === 0 && report.failed === 0) break;
  }
  const totalMs = performance.now() - began;
  const cpu = process.cpuUsage(cpuBefore);
  const jvmAfter = processCpuMs(local.pid);
  const proxyAfter = processCpuMs(proxy.pid);
  const calls = await proxy.take();

  const lags = ticks.flatMap((t) => t.report.lagsMs).sort((a, b) => a - b);
  const started = ticks.reduce((n, t) => n + t.report.started, 0);
  const conflicts = calls.filter((c) => c.reasons?.includes('TransactionConflict')).length;
  for (const [i, { report, ms }] of ticks.entries()) {
    log(
      `tick ${i + 1}: ${fmt(ms / 1000, 1)} s, due ${fmt(report.due)}, started ${fmt(report.started)}, deferred ${fmt(report.deferred)}, failed ${fmt(report.failed)}, skipped ${report.skipped}, missed ${report.missedFireTimes}`,
    );
  }
  log(
    `dispatch time ${fmt(totalMs / 1000, 1)} s (${fmt((started / totalMs) * 1000, 0)} fires/s); lag fire time → queued p50 ${fmt(percentile(lags, 0.5) / 1000, 2)} s, p99 ${fmt(percentile(lags, 0.99) / 1000, 2)} s, max ${fmt((lags.at(-1) ?? 0) / 1000, 2)} s`,
  );
  log(
    `DynamoDB requests per fire: ${byOperation(calls, started)}; transaction conflicts retried: ${conflicts}`,
  );
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const fires = Math.max(started, 1);
  const jvmMs = jvmBefore !== undefined && jvmAfter !== undefined ? jvmAfter - jvmBefore : undefined;
  // The counting proxy runs in a process of its own (the bench's meter, not the dispatcher).
  const proxyMs =
    proxyBefore !== undefined && proxyAfter !== undefined ? proxyAfter - proxyBefore : undefined;
  log(
    `CPU per fire: Node (dispatcher + SDK) ${fmt(cpuMs / fires, 2)} ms, DynamoDB Local's JVM ${jvmMs === undefined ? 'n/a' : `${fmt(jvmMs / fires, 2)} ms`}${proxyMs === undefined ? '' : `, the counting proxy (not in the total) ${fmt(proxyMs / fires, 2)} ms`}; Node and JVM together ${jvmMs === undefined ? 'n/a' : `${fmt((cpuMs + jvmMs) / totalMs, 2)} of the ${cpus().length} cores over the dispatch`}`,
  );

  // Exactly once: one execution per schedule, every schedule moved on, one StartExecution each.
  const schedules: Awaited<ReturnType<typeof services.schedules.get>>[] = [];
  await inLanes(ids.length, SEED_CONCURRENCY, async (n) => {
    schedules.push(await services.schedules.get(ids[n] as string));
  });
  const total = await services.executions.list({ pageSize: 1, sortBy: 'queuedAt', sortDescending: true });
  const wrong = schedules.filter(
    (s) =>
      s.lastRunTime !== new Date(FIRE_TIME).toISOString() ||
      s.nextRunTime !== new Date(FIRE_TIME + 86_400_000).toISOString(),
  );
  const ok = started === size && total.totalCount === size && workflow.started === size && wrong.length === 0;
  log(
    ok
      ? `exactly once: ${fmt(size)} executions, ${fmt(size)} starts, every schedule moved on to the next day`
      : `NOT exactly once: started ${started}, executions ${total.totalCount}, starts ${workflow.started}, schedules not moved on ${wrong.length}`,
  );
  return ok;
}
