import { enumOf, type ValueOf } from './enum.js';
import { OverlapPolicy } from './model.js';
import type { Execution } from './schemas/execution.js';

/**
 * The overlap policy, for cron and manual runs alike, when the schedule already has active (Queued,
 * InProgress or Paused) executions. What a refusal means differs by caller: a manual run is answered
 * 409, a cron fire is counted as skipped. `StartAndSupersede`: record the run, then cancel every
 * other active execution of the schedule (see `superseded`).
 */
export const OverlapDecision = enumOf('Start', 'StartAndSupersede', 'Refuse');
export type OverlapDecision = ValueOf<typeof OverlapDecision>;

export function decideOverlap(policy: OverlapPolicy, activeCount: number): OverlapDecision {
  // Even with nothing seen active: a run recorded at the same moment may be, once this one is.
  if (policy === OverlapPolicy.CancelOther) return OverlapDecision.StartAndSupersede;
  if (activeCount === 0) return OverlapDecision.Start;
  switch (policy) {
    case OverlapPolicy.Skip:
      return OverlapDecision.Refuse;
    case OverlapPolicy.BufferOne:
      // One running plus one waiting: the buffer is full once two are active.
      return activeCount >= 2 ? OverlapDecision.Refuse : OverlapDecision.Start;
    case OverlapPolicy.AllowAll:
      return OverlapDecision.Start;
  }
}

/**
 * Whether runs of the policy must be decided one at a time. Skip and BufferOne may refuse, and
 * whether they do depends on the runs recorded before: each run's write requires that no other run
 * was recorded since it read. AllowAll and CancelOther never refuse, so their runs are recorded side
 * by side, each requiring only that the schedule still exists and still has such a policy when it
 * is named on the schedule (a run that finds otherwise is withdrawn and decided again).
 */
export const runsOneAtATime = (policy: OverlapPolicy): boolean =>
  policy === OverlapPolicy.Skip || policy === OverlapPolicy.BufferOne;

/** The policies whose runs are recorded side by side (see `runsOneAtATime`). */
export const SIDE_BY_SIDE_POLICIES: readonly OverlapPolicy[] = Object.values(OverlapPolicy).filter(
  (policy) => !runsOneAtATime(policy),
);

/** The order of a schedule's executions, oldest first: by queue time, ties broken by id. */
export const olderFirst = (a: Execution, b: Execution): number =>
  a.queuedAt.localeCompare(b.queuedAt) || a.id.localeCompare(b.id);

/**
 * CancelOther, once a run is recorded: of the schedule's active executions (the new one among them),
 * every one but the newest is superseded. Runs recorded at the same moment each apply this after
 * their own write, so the newest of them survives and each other one is cancelled (by a newer run
 * or by its own), with no run waiting for another.
 */
export function superseded(active: readonly Execution[]): Execution[] {
  return [...active].sort(olderFirst).slice(0, -1);
}
