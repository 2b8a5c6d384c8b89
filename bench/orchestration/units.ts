import type { DynamoCall } from '../dynamo-proxy.js';
import type { Invocation } from '../lambdas.js';
import { sum } from '../measure.js';
import type { BenchStack } from '../stack.js';
import type { WriteUnits } from '../write-units.js';
import type { HandoffResult } from './handoff.js';
import type { Shape } from './schedules.js';
import { LAMBDA_MB } from './settings.js';
import type { ThroughputResult } from './throughput.js';

/** Measuring a window: what a phase cost, per step. */

export interface Window {
  label: string;
  calls: DynamoCall[];
  invocations: Invocation[];
  steps: number;
  executions: number;
  /** The schedule's stages: of several steps (RunStage's Map), runs of one-step stages (RunSingleStep). */
  shape: Shape;
  /** State transitions of the window's executions, measured (`transitionsEntered`). */
  transitions: number;
}

export interface PerStep {
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

/**
 * State transitions from the ASL (statemachines/execution.asl.json), for a run with no wait and no
 * failure, of S stages, P of several steps, R runs of one-step stages, N steps: Advance (P + 1),
 * Route (1 + P + R: at the start, after each Map's Advance, after each run), the Map (P), RunStep
 * per step of a Map (N − (S − P)), RunSingleStep once a run (R: its token is handed on through the
 * run), Finished (1): 3 + 4P + 2R + N − S.
 */
export const transitionsPerExecution = ({ stages, parallelStages, singleRuns, steps }: Shape) =>
  3 + 4 * parallelStages + 2 * singleRuns + steps - stages;

/** The same before a completion carried the next decision (main at b865822): Advance after every stage. */
export const transitionsPerExecutionBefore = ({ stages, parallelStages, steps }: Shape) =>
  2 * stages + parallelStages + steps + 3;

/** The states the executions' state machines entered (retries and a Map's items included), as the local engine counted them. */
export const transitionsEntered = (
  executionIds: readonly string[],
  stack: Pick<BenchStack, 'statesEntered'>,
): number => sum(executionIds.map((id) => stack.statesEntered(id).length));

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

export const invocationKey = (i: Invocation) => `${i.fn} ${i.kind}`;

export function perStep(
  window: Window,
  units: Map<number, WriteUnits>,
  priced: Map<string, number>,
): PerStep {
  const { calls, invocations, steps } = window;
  const ok = calls.filter((c) => c.status === 200);
  const reads = ok.filter((c) => !c.write);
  const writes = ok.filter((c) => c.write);
  const ms = (list: Invocation[]) => sum(list.map((i) => i.ms));
  const claims = invocations.filter((i) => i.kind === 'claimTasks');
  return {
    transitionsMeasured: window.transitions / steps,
    transitionsComputed: (window.executions * transitionsPerExecution(window.shape)) / steps,
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

export interface PricedUnits {
  /** The handler time a claim is priced at: one that found its step queued, measured alone. */
  immediateClaim: number;
  unitsA: PerStep;
  unitsB: PerStep;
  /** One heartbeat, measured alone. */
  beat: PerStep;
}

/**
 * Lambda time priced per invocation kind at its unloaded mean: phase (a) ran one thing at a time; a
 * claim is priced as one that found its step queued (its long-poll waiting is idle cost).
 */
export function pricedUnits(
  a: HandoffResult,
  b: ThroughputResult,
  units: Map<number, WriteUnits>,
): PricedUnits {
  const priced = new Map<string, number>();
  for (const [key, list] of groupBy([...a.window.invocations, ...a.heartbeat.invocations], invocationKey)) {
    priced.set(key, sum(list.map((i) => i.ms)) / list.length);
  }
  const immediateClaim = sum(a.immediateClaims) / a.immediateClaims.length;
  priced.set('claims claimTasks', immediateClaim);
  const unitsA = perStep(a.window, units, priced);
  const unitsB = perStep(b.window, units, priced);
  const heartbeatWindow: Window = {
    label: 'heartbeat',
    calls: a.heartbeat.calls,
    invocations: a.heartbeat.invocations,
    steps: 5,
    executions: 0,
    shape: { steps: 1, stages: 0, parallelStages: 0, singleRuns: 0 },
    transitions: 0,
  };
  const beat = perStep(heartbeatWindow, units, priced);
  return { immediateClaim, unitsA, unitsB, beat };
}
