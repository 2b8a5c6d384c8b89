import { OverlapPolicy } from './model.js';

/**
 * The overlap policy, for cron and manual runs alike, when the schedule already has active (Queued,
 * InProgress or Paused) executions. What a refusal means differs by caller: a manual run is answered
 * 409, a cron fire is counted as skipped.
 */
export const OverlapDecision = {
  Start: 'Start',
  CancelActiveThenStart: 'CancelActiveThenStart',
  Refuse: 'Refuse',
} as const;
export type OverlapDecision = (typeof OverlapDecision)[keyof typeof OverlapDecision];

export function decideOverlap(policy: OverlapPolicy, activeCount: number): OverlapDecision {
  if (activeCount === 0) return OverlapDecision.Start;
  switch (policy) {
    case OverlapPolicy.Skip:
      return OverlapDecision.Refuse;
    case OverlapPolicy.BufferOne:
      // One running plus one waiting: the buffer is full once two are active.
      return activeCount >= 2 ? OverlapDecision.Refuse : OverlapDecision.Start;
    case OverlapPolicy.AllowAll:
      return OverlapDecision.Start;
    case OverlapPolicy.CancelOther:
      return OverlapDecision.CancelActiveThenStart;
  }
}
