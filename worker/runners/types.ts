import type { FinalActivityStatus } from '../../core/status-rules.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';

/** What running a step produced: the activity status the worker reports, and its evidence. */
export interface StepOutcome {
  activityStatus: FinalActivityStatus;
  errorMessage?: string;
  activityId?: string;
  /** A tail of what the step printed, for the record (bounded by the runner). */
  output?: string;
}

export interface RunContext {
  /** Aborted on cancel, timeout or worker shutdown: the runner stops everything it started, at once. */
  signal: AbortSignal;
  /** Why the signal fired, once it has: the runner reports `Cancelled` or `FailedWithError` from it. */
  reason: () => 'cancelled' | 'timeout' | 'shutdown' | undefined;
  /** For log lines only. */
  taskId: string;
}

/** Runs one type of step. Implementations never throw for a failing step: they return its outcome. */
export interface StepRunner<S extends ScheduleStep = ScheduleStep> {
  run(step: S, context: RunContext): Promise<StepOutcome>;
}
