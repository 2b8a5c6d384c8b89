import type { ScheduleStep } from '../../core/schemas/schedule.js';
import type { FinalActivityStatus } from '../../core/transitions.js';

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
  /** The worker task being run (log lines, adapters, `SCHEDULE_TASK_ID` of step processes). */
  taskId: string;
  /** The execution the step belongs to (handed to run-profile adapters and step processes). */
  executionId?: string;
  /** Reports progress (e.g. the last line a process printed); the worker sends the latest with its next heartbeat. */
  progress?: (message: string) => void;
}

/** Runs one type of step. Implementations never throw for a failing step: they return its outcome. */
export interface StepRunner<S extends ScheduleStep = ScheduleStep> {
  run(step: S, context: RunContext): Promise<StepOutcome>;
}
