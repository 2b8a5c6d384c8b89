import { WorkerTaskIndex } from '../../core/adapters/dynamodb/tables.js';
import { CLAIMS_FUNCTION_MEMORY_MB } from '../../lib/function-memory.js';
import { sum, trim } from '../measure.js';
import type { Probe } from './handoff.js';
import { HANDOFF_WAIT_SECONDS, HEARTBEATS_PER_STEP, IDLE_SECONDS, LAMBDA_MB } from './settings.js';
import type { PerStep } from './units.js';

/** What the measured units cost in AWS. */

/** Public on-demand prices, us-east-1, USD. */
export const PRICES = {
  asOf: 'us-east-1 on-demand list prices as of 2026-11-29, read from stored copies of the AWS pricing pages and third-party summaries (not a live check)',
  sfnTransition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1e6,
  /** arm64 (Graviton: every function runs on it), first 7.5 billion GB-s a month. */
  lambdaGbSecond: 0.0000133334,
  /** REST API, first 333 million requests a month. */
  apiRequest: 3.5 / 1e6,
  /** On-demand, after the November 2024 cut. */
  writeRequestUnit: 0.625 / 1e6,
  readRequestUnit: 0.125 / 1e6,
  /** Standard queue, past the first million requests a month (each up to 64 KB). */
  sqsRequest: 0.4 / 1e6,
};

/**
 * The wake-up of one task, computed from the design (the local SQS endpoint is not metered), at
 * most: its SendMessage; the claim's ReceiveMessage at once, for signals already waiting; the long
 * poll's ReceiveMessage that delivers it; the DeleteMessageBatch that drops it. A claim of n tasks
 * from waiting signals shares its two receives-and-delete: 1 + 2/n a step.
 */
export const SQS_REQUESTS_PER_STEP = 4;

/** Cost of one step, by service: name, USD, and the units priced. */
export function costRows(units: PerStep, heartbeat: PerStep | undefined) {
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
    [
      'SQS requests (wake-ups, computed)',
      SQS_REQUESTS_PER_STEP * PRICES.sqsRequest,
      `${SQS_REQUESTS_PER_STEP} requests`,
    ],
  ];
  return rows;
}

/** SQS receives of a claim waiting `seconds` on an empty pool: ReceiveMessage waits at most 20 s. */
const receivesIn = (seconds: number) => Math.ceil(seconds / 20);

/**
 * What one worker long-polling an empty pool for 30 days costs, from the idle claim measured in (a):
 * every claim is held the whole wait, so the claims function's GB-s (at its memory, arm64) over the
 * month is the bulk; then per claim an API request, two invocations (authorizer, claim), the
 * authorizer's read, the worker record's write, one queue query (its one look at the table) and a
 * ReceiveMessage per 20 s.
 */
export function idleWorkerMonth(idle: Probe) {
  const ok = idle.calls.filter((c) => c.status === 200);
  const queueCalls = ok.filter((c) => c.index === WorkerTaskIndex.poolQueued);
  const idleQueries = queueCalls.length;
  // All once per claim, whatever its wait: the look at the table, the authorizer's read, the worker record's write.
  const idleRru = sum(ok.filter((c) => !c.write).map((c) => c.capacity));
  const idleWru = sum(ok.filter((c) => c.write).map((c) => c.capacity));
  const held = HANDOFF_WAIT_SECONDS / IDLE_SECONDS;
  // One claim after the other, each as long as the one measured (its wait plus its own work).
  const polls = (30 * 86_400) / ((idle.ms / 1000) * held);
  const gbs = (fn: string, mb: number) =>
    ((sum(idle.invocations.filter((i) => i.fn === fn).map((i) => i.ms)) * held) / 1000) * (mb / 1024);
  const claimGbs = gbs('claims', CLAIMS_FUNCTION_MEMORY_MB);
  const authorizerGbs = gbs('authorizer', LAMBDA_MB);
  const receives = receivesIn(HANDOFF_WAIT_SECONDS);
  const idleMonth = {
    api: polls * PRICES.apiRequest,
    lambda: polls * 2 * PRICES.lambdaRequest + polls * (claimGbs + authorizerGbs) * PRICES.lambdaGbSecond,
    ddb: polls * (idleRru * PRICES.readRequestUnit + idleWru * PRICES.writeRequestUnit),
    sqs: polls * receives * PRICES.sqsRequest,
  };
  return { idleQueries, idleRru, idleWru, polls, receives, claimGbs, idleMonth };
}
