import { WorkerTaskIndex } from '../../core/adapters/dynamodb/tables.js';
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
  /** x86, first 6 billion GB-s a month. */
  lambdaGbSecond: 0.0000166667,
  /** REST API, first 333 million requests a month. */
  apiRequest: 3.5 / 1e6,
  /** On-demand, after the November 2024 cut. */
  writeRequestUnit: 0.625 / 1e6,
  readRequestUnit: 0.125 / 1e6,
};

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
  ];
  return rows;
}

/** What one worker long-polling an empty pool for 30 days costs, from the idle claim measured in (a). */
export function idleWorkerMonth(idle: Probe) {
  const idleCalls = idle.calls.filter((c) => c.status === 200);
  const queueCalls = idleCalls.filter((c) => c.index === WorkerTaskIndex.poolQueued);
  const idleQueries = queueCalls.length;
  const scale = HANDOFF_WAIT_SECONDS / IDLE_SECONDS;
  // Queue queries scale with the wait; the authorizer's read is once per claim.
  const idleRru =
    sum(queueCalls.map((c) => c.capacity)) * scale +
    sum(idleCalls.filter((c) => c.index !== WorkerTaskIndex.poolQueued).map((c) => c.capacity));
  const polls = (30 * 86_400) / HANDOFF_WAIT_SECONDS;
  const idleLambdaMs = sum(idle.invocations.map((i) => i.ms)) * (HANDOFF_WAIT_SECONDS / IDLE_SECONDS);
  const idleMonth = {
    api: polls * PRICES.apiRequest,
    lambda:
      polls * 2 * PRICES.lambdaRequest +
      polls * (idleLambdaMs / 1000) * (LAMBDA_MB / 1024) * PRICES.lambdaGbSecond,
    ddb: polls * idleRru * PRICES.readRequestUnit,
  };
  return { idleQueries, idleRru, polls, idleMonth };
}
