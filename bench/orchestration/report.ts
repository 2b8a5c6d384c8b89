import { cpus, loadavg } from 'node:os';
import { CLAIMS_FUNCTION_MEMORY_MB } from '../../lib/function-memory.js';
import type { DynamoCall } from '../dynamo-proxy.js';
import type { Invocation } from '../lambdas.js';
import { fmt, log, percentile, sum, table, trim } from '../measure.js';
import type { replayWriteUnits, WriteUnits } from '../write-units.js';
import type { HandoffResult } from './handoff.js';
import { costRows, idleWorkerMonth, PRICES } from './pricing.js';
import { enqueuedByStateMachine, MIX, SEQUENTIAL, shapeOf } from './schedules.js';
import {
  EXECUTIONS,
  HANDOFF_WAIT_SECONDS,
  HEARTBEATS_PER_STEP,
  IDLE_SECONDS,
  LAMBDA_MB,
  MAX_TASKS,
  THROUGHPUT_WAIT_SECONDS,
  WORKER_LOOPS,
} from './settings.js';
import { SERVICE_PROCESSES, type ThroughputResult } from './throughput.js';
import {
  groupBy,
  type PerStep,
  pricedUnits,
  transitionsPerExecution,
  transitionsPerExecutionBefore,
  type Window,
} from './units.js';

/** The tables and lines the orchestration benchmark prints. */

const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);

export const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : '–');
export const stats = (values: number[]) => {
  const s = sorted(values);
  return {
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    min: s[0] ?? Number.NaN,
    max: s.at(-1) ?? Number.NaN,
  };
};

export function signature(call: DynamoCall): string {
  const tables = call.tables.map((t) => t.replace(/^bench-orch-/, '')).join('+');
  return `${call.operation} ${tables}${call.index ? `/${call.index}` : ''}`;
}

export function printSignatures(window: Window, units: Map<number, WriteUnits>) {
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

export function printLambdas(a: Window, b: Window) {
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

export function printCosts(columns: { label: string; units: PerStep }[], heartbeat: PerStep) {
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

export interface OrchestrationReport {
  a: HandoffResult;
  b: ThroughputResult;
  /** Problems found so far (printed under (b)). */
  problems: readonly string[];
  replay: Awaited<ReturnType<typeof replayWriteUnits>>;
  replayMs: number;
  /** How many writes the proxy logged (and the replay replayed). */
  loggedWrites: number;
}

/** Prints sections (a) to (d) and the idle worker's cost. */
export function printOrchestrationReport(r: OrchestrationReport): void {
  const { a, b, problems, replay, replayMs } = r;
  const mix = shapeOf(MIX);
  const sequential = shapeOf(SEQUENTIAL);
  const units = replay.units;
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
      // The completion decides the next move before it answers (RunSingleStep): this is the whole hand-off.
      row('complete called → next step claimed', a.fromCompleteCall),
      row('run → first step claimed (POST …/run + claim)', a.firstClaims),
    ],
    (c) => c > 0,
  );
  log(
    "  The waiting worker long-polls (waitSeconds 20): its claim looks at the table once, then waits on its pool's wake-up",
  );
  log(
    '  queue (SQS, the local endpoint) and claims the task a signal names; each step "runs" 20–520 ms (random). The completion',
  );
  log(
    '  queues the next step itself (it hands its token on) before it answers, so a negative figure is a step claimed before',
  );
  log('  the complete call returned.');

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
  const perStep = (cpuMs: number) => trim(cpuMs / b.window.steps);
  const processes = Object.entries(b.cpu.cpuMs);
  const own = processes.filter(([name]) => (SERVICE_PROCESSES as readonly string[]).includes(name));
  const bench = processes.filter(([name]) => !(SERVICE_PROCESSES as readonly string[]).includes(name));
  const list = (entries: [string, number][]) =>
    entries.map(([name, cpuMs]) => `${name} ${perStep(cpuMs)} ms`).join(' + ');
  const total = (entries: [string, number][]) => sum(entries.map(([, cpuMs]) => cpuMs)) / b.window.steps;
  // What the cores allow if nothing else ran: every process's CPU per step against all the cores.
  const atMost = (msPerStep: number) => fmt((cpus().length * 1000) / msPerStep, 0);
  log(
    `  CPU per step (/proc/<pid>/stat over the run): the service, ${list(own)} = ${trim(total(own))} ms (at most ${atMost(total(own))} steps/s on ${cpus().length} idle cores);`,
  );
  log(
    `    the bench's ${list(bench)} (child processes); all together ${trim(total(processes))} ms (at most ${atMost(total(processes))} steps/s)`,
  );
  log(
    `  this machine's speed: a fixed piece of work (JSON, SHA-256) took ${b.referenceMs.map((v) => v.toFixed(0)).join(' / ')} ms of CPU before / after the run`,
  );
  log(
    '    (the same code takes more CPU a step when this takes more: compare runs with it, not the rate alone)',
  );
  log(
    `  the service's event loop: utilisation ${b.cpu.eventLoopUtilisation.toFixed(2)}, delay p50 ${ms(b.cpu.delayP50Ms)} ms, p99 ${ms(b.cpu.delayP99Ms)} ms`,
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
      ? `  Verified: ${b.verified.executions} executions Completed with totalSteps ${mix.stages}; ${b.verified.steps} steps Completed once each (startedAt, completedAt, stages in order); every task claimed once and its completion accepted once; ${enqueuedByStateMachine(mix)} enqueues by the state machine per execution, the others by a completion handing its token on`
      : `  VERIFICATION FAILED (${problems.length} problem(s)):`,
  );
  for (const problem of problems.slice(0, 20)) log(`    - ${problem}`);

  // ---- c
  const { immediateClaim, unitsA, unitsB, beat } = pricedUnits(a, b, units);
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
    '  computed from the ASL: per execution (S stages, P of them of several steps, R runs of one-step stages, N steps, no wait,',
  );
  log(
    '    no failure) = Advance (P+1) + Route (1+P+R) + RunStage Map (P) + RunStep (N-(S-P)) + RunSingleStep (R) + Finished (1)',
  );
  log(
    "    = 3 + 4P + 2R + N - S: a completion hands RunSingleStep's token on to the next one-step stage, so a run of them is one",
  );
  log(
    '    RunSingleStep and one Route. A park adds 3 (Park, Advance, Route) per wake-up or timeout, a failed step 1 (StepFailed,',
  );
  log('    then Advance). Before (main at b865822) every stage was followed by Advance: 2S + P + N + 3');
  const transitionRow = (label: string, shape: ReturnType<typeof shapeOf>, u: PerStep) => {
    const before = transitionsPerExecutionBefore(shape);
    const after = transitionsPerExecution(shape);
    return [
      label,
      String(shape.stages),
      String(shape.parallelStages),
      String(shape.singleRuns),
      String(shape.steps),
      `${before} → ${after}`,
      `${trim(before / shape.steps)} → ${trim(u.transitionsComputed)}`,
      trim(u.transitionsMeasured),
    ];
  };
  table(
    [
      '',
      'S',
      'P',
      'R',
      'N',
      'computed/execution before → now',
      'computed/step before → now',
      'measured/step',
    ],
    [transitionRow(a.window.label, sequential, unitsA), transitionRow(b.window.label, mix, unitsB)],
    (c) => c > 0,
  );
  log(
    "  measured = the states the local engine entered for the window's executions (LocalStack.statesEntered), retries included.",
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
  log(
    `  WRU (AWS) = writes replayed one item at a time (${fmt(r.loggedWrites)} logged writes, ${(replayMs / 1000).toFixed(1)} s): table arm ×2 in transactions,`,
  );
  log(
    '  index arms ×1. "Local says" = DynamoDB Local\'s own figure, wrong for TransactWriteItems (see write-units.ts).',
  );

  // ---- d
  log();
  log(`(d) Cost per million steps — ${PRICES.asOf}:`);
  log(
    '    Step Functions Standard $0.025 per 1,000 transitions; Lambda $0.20 per million requests + $0.0000133334 per GB-s (arm64);',
  );
  log(
    '    API Gateway REST $3.50 per million requests; DynamoDB on-demand $0.625 per million WRU, $0.125 per million RRU; SQS $0.40 per million requests.',
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
  const idle = idleWorkerMonth(a.idle);
  const idleTotal = idle.idleMonth.api + idle.idleMonth.lambda + idle.idleMonth.ddb + idle.idleMonth.sqs;
  log();
  log(
    `Idle worker (measured: one ${IDLE_SECONDS} s claim on an empty pool = ${idle.idleQueries} queue queries + 1 authorizer read + 1 worker write, ${ms(sum(a.idle.invocations.map((i) => i.ms)))} ms of Lambda),`,
  );
  log(
    `  long-polling ${HANDOFF_WAIT_SECONDS} s at a time for 30 days: ${fmt(idle.polls)} claims, each holding the claims function (${CLAIMS_FUNCTION_MEMORY_MB} MB, arm64) ${trim(idle.claimGbs)} GB-s,`,
  );
  log(
    `  with ${idle.receives} SQS receive(s), ${trim(idle.idleRru)} RRU and ${trim(idle.idleWru)} WRU → $${fmt(idle.idleMonth.api, 2)} API Gateway + $${fmt(idle.idleMonth.lambda, 2)} Lambda + $${fmt(idle.idleMonth.ddb, 2)} DynamoDB + $${fmt(idle.idleMonth.sqs, 2)} SQS = $${fmt(idleTotal, 2)} per worker-month`,
  );
  printTargets(a, b, idleTotal);
}

/**
 * Issue #13's figures, measured on main before the wake-up queues with the same command
 * (`BENCH_ONLY=orchestration npm run bench`, 2 cores), printed beside this run's.
 */
const BEFORE = {
  handoffP50: 296,
  handoffP99: 537,
  stepsPerSecond: 23.0,
  cancelledClaimsPerStep: 4893 / 1000,
  idleWorkerMonth: 22,
};

/** Cancelled claim transactions: the claim is the one transaction of a task, its step and its receipt (3 actions). */
const cancelledClaims = (calls: readonly DynamoCall[]) =>
  calls.filter(
    (c) =>
      c.operation === 'TransactWriteItems' &&
      c.error === 'TransactionCanceledException' &&
      c.reasons?.length === 3 &&
      c.tables.some((t) => t.endsWith('WorkerTasks')),
  ).length;

function printTargets(a: HandoffResult, b: ThroughputResult, idleTotal: number): void {
  const handoff = stats(a.handoffs);
  const cancelled = cancelledClaims(b.window.calls) / b.window.steps;
  log();
  log(
    `Issue #13: before (main, the issue's figures) and this run, load average (1 min) ${loadavg()[0]?.toFixed(2)} now, reference work ${b.referenceMs.map((v) => v.toFixed(0)).join(' / ')} ms`,
  );
  table(
    ['', 'before', 'now', 'target'],
    [
      ['(a) hand-off p50 ms', ms(BEFORE.handoffP50), ms(handoff.p50), '≤ 50'],
      ['(a) hand-off p99 ms', ms(BEFORE.handoffP99), ms(handoff.p99), '≤ 150'],
      ['(b) steps/s', fmt(BEFORE.stepsPerSecond, 1), fmt(b.window.steps / (b.wallMs / 1000), 1), '≥ 60'],
      [
        '(b) cancelled claim transactions per step',
        fmt(BEFORE.cancelledClaimsPerStep, 2),
        fmt(cancelled, 2),
        '< 0.5',
      ],
      ['(b) every task claimed exactly once', 'yes', b.problems.length === 0 ? 'yes' : 'NO', 'yes'],
      ['idle worker $ per month', `~${BEFORE.idleWorkerMonth}`, fmt(idleTotal, 2), '≤ 5'],
    ],
    (c) => c > 0,
  );
}
