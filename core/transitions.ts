import { ActivityStatus, ExecutionStatus, StepStatus, WorkerTaskStatus } from './model.js';

/**
 * The one table of status moves: which execution, step and worker-task statuses may move to which,
 * under which name, and what moves with them. Services ask it whether a move is allowed; the stores
 * only carry out the writes a move describes, their conditions built from its `from` list. A status
 * with no move out of it is terminal; test/unit/transitions.test.ts enumerates every pair.
 */

/** A named move: from any of `from` to `to` (to one of them, when a move may end several ways). */
export interface Move<S extends string> {
  readonly from: readonly S[];
  readonly to: S | readonly S[];
}

/** Statuses in which an execution still holds its schedule (overlap policy, delete guard, `/active`). */
export const ACTIVE_EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  ExecutionStatus.Queued,
  ExecutionStatus.InProgress,
  ExecutionStatus.Paused,
];

export const isActiveExecutionStatus = (status: ExecutionStatus): boolean =>
  ACTIVE_EXECUTION_STATUSES.includes(status);

/** Statuses of an execution that may be retried (POST /schedule-executions/{id}/retry); 409 in any other. */
export const RETRYABLE_EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  ExecutionStatus.Failed,
  ExecutionStatus.Cancelled,
];

/**
 * The statuses in which an execution waits, its state machine parked on a callback (see
 * Orchestrator.park): Queued behind an older run (BufferOne), or Paused at a stage.
 */
export const PARKING_EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  ExecutionStatus.Queued,
  ExecutionStatus.Paused,
];

export const TERMINAL_STEP_STATUSES: readonly StepStatus[] = [
  StepStatus.Completed,
  StepStatus.CompletedWithWarning,
  StepStatus.CompletedWithError,
  StepStatus.Failed,
  StepStatus.Cancelled,
];

export const isTerminalStepStatus = (status: StepStatus): boolean => TERMINAL_STEP_STATUSES.includes(status);

/** Statuses a step has not ended in yet. */
export const UNFINISHED_STEP_STATUSES: readonly StepStatus[] = Object.values(StepStatus).filter(
  (status) => !isTerminalStepStatus(status),
);

/** Statuses in which a step is handed to a worker task: waiting in its pool, or claimed and running. */
export const HANDED_OUT_STEP_STATUSES: readonly StepStatus[] = [StepStatus.Queued, StepStatus.Processing];

/** Statuses at which a step counts as failed for events and metrics (Cancelled is the execution's doing). */
export const FAILED_STEP_STATUSES: readonly StepStatus[] = [StepStatus.Failed, StepStatus.CompletedWithError];

/** Step statuses that stop the execution unless the step says `continueOnFailure`. */
export const STAGE_FAILING_STEP_STATUSES: readonly StepStatus[] = [
  ...FAILED_STEP_STATUSES,
  StepStatus.Cancelled,
];

/** Activity status a worker reports → the step's status. `InProgress` is not an outcome. */
export const STEP_STATUS_BY_ACTIVITY = {
  [ActivityStatus.Complete]: StepStatus.Completed,
  [ActivityStatus.CompleteWithWarning]: StepStatus.CompletedWithWarning,
  [ActivityStatus.CompleteWithError]: StepStatus.CompletedWithError,
  [ActivityStatus.FailedWithError]: StepStatus.Failed,
  [ActivityStatus.Cancelled]: StepStatus.Cancelled,
} as const satisfies Record<Exclude<ActivityStatus, 'InProgress'>, StepStatus>;

export type FinalActivityStatus = keyof typeof STEP_STATUS_BY_ACTIVITY;

/** The status every new execution, step and worker task starts in. */
export const INITIAL_STATUS = {
  execution: ExecutionStatus.Queued,
  step: StepStatus.Pending,
  task: WorkerTaskStatus.Queued,
} as const;

/**
 * Execution moves. One that ends the execution (`ends`) carries, in the same write: every
 * unfinished step moves by the step move `cancel`, the execution leaves the active index, and its
 * expiry (TTL) is set from its completedAt. A worker still running a step of an ended execution is
 * told to stop at its next heartbeat (`taskMustStop`), and its task is abandoned when claimed.
 */
export const EXECUTION_MOVES = {
  /** Queued → InProgress: the state machine starts it (not before its predecessor under BufferOne). */
  start: { from: [ExecutionStatus.Queued], to: ExecutionStatus.InProgress, ends: false },
  /** The next stage is reached: `currentStepIndex` moves on, the status stays. */
  reachStage: { from: [ExecutionStatus.InProgress], to: ExecutionStatus.InProgress, ends: false },
  pause: { from: [ExecutionStatus.InProgress], to: ExecutionStatus.Paused, ends: false },
  resume: { from: [ExecutionStatus.Paused], to: ExecutionStatus.InProgress, ends: false },
  /** Every stage finished without a blocking failure (a paused execution whose last stage ended too). */
  complete: {
    from: [ExecutionStatus.InProgress, ExecutionStatus.Paused],
    to: ExecutionStatus.Completed,
    ends: true,
  },
  /** A stage failed it, or its state machine crashed (then from any active status). */
  fail: { from: ACTIVE_EXECUTION_STATUSES, to: ExecutionStatus.Failed, ends: true },
  /** By a user, by CancelOther's supersede, or a run withdrawn before it started. */
  cancel: { from: ACTIVE_EXECUTION_STATUSES, to: ExecutionStatus.Cancelled, ends: true },
} as const satisfies Record<string, Move<ExecutionStatus> & { ends: boolean }>;

export type ExecutionMoveName = keyof typeof EXECUTION_MOVES;

/** Worker-task moves; enqueueing creates a task in INITIAL_STATUS.task. */
export const TASK_MOVES = {
  /** A worker takes it from its pool's queue. */
  claim: { from: [WorkerTaskStatus.Queued], to: WorkerTaskStatus.Claimed },
  /** Given back to the queue: the claim's answer could not be made. */
  release: { from: [WorkerTaskStatus.Claimed], to: WorkerTaskStatus.Queued },
  /** Its worker reported an outcome (kept on the task even when late). */
  complete: { from: [WorkerTaskStatus.Claimed], to: WorkerTaskStatus.Completed },
  /** Its step ended without the worker (cancel, timeout, lost heartbeat): the worker must stop. */
  abandon: {
    from: [WorkerTaskStatus.Queued, WorkerTaskStatus.Claimed],
    to: WorkerTaskStatus.Abandoned,
  },
} as const satisfies Record<string, Move<WorkerTaskStatus>>;

export type TaskMoveName = keyof typeof TASK_MOVES;

/**
 * Step moves, and the task move each carries (`task`): in the same transaction for enqueue, claim,
 * release and finish; just after for fail. A step cancelled with its execution moves no task: its
 * worker learns at its next heartbeat or claim (`taskMustStop`).
 */
export const STEP_MOVES = {
  /** The execution is paused when the stage is reached: the step shows it waits. */
  hold: { from: [StepStatus.Pending], to: StepStatus.Waiting },
  /** Handed to its pool: a new task, in INITIAL_STATUS.task. */
  enqueue: { from: [StepStatus.Pending, StepStatus.Waiting], to: StepStatus.Queued, task: 'create' },
  claim: { from: [StepStatus.Queued], to: StepStatus.Processing, task: 'claim' },
  release: { from: [StepStatus.Processing], to: StepStatus.Queued, task: 'release' },
  /** Its worker reported the outcome (STEP_STATUS_BY_ACTIVITY). */
  finish: {
    from: [StepStatus.Processing],
    to: Object.values(STEP_STATUS_BY_ACTIVITY),
    task: 'complete',
  },
  /** The state machine gave up on it, or it passed a deadline. */
  fail: { from: UNFINISHED_STEP_STATUSES, to: StepStatus.Failed, task: 'abandon' },
  /** Its execution ended (see EXECUTION_MOVES). */
  cancel: { from: UNFINISHED_STEP_STATUSES, to: StepStatus.Cancelled },
} as const satisfies Record<string, Move<StepStatus> & { task?: TaskMoveName | 'create' }>;

export type StepMoveName = keyof typeof STEP_MOVES;

/** Every status `move` may end in. */
export const targetsOf = <S extends string>(move: Move<S>): readonly S[] =>
  typeof move.to === 'string' ? [move.to as S] : (move.to as readonly S[]);

/** Whether the named move may start from `status`. */
export const canMove = <S extends string>(move: Move<S>, status: S): boolean => move.from.includes(status);

/** The move of `table` that goes from `from` to `to`, if any: the table's answer to "is this allowed?". */
export function moveBetween<S extends string, M extends Move<S>>(
  table: Readonly<Record<string, M>>,
  from: S,
  to: S,
): M | undefined {
  return Object.values(table).find((move) => canMove(move, from) && targetsOf(move).includes(to));
}

/**
 * The execution move from `from` to `to`, as stores check every write they make: a pair the table
 * does not allow is a bug of the caller, refused before anything is written.
 */
export function executionMove(
  from: ExecutionStatus,
  to: ExecutionStatus,
): (typeof EXECUTION_MOVES)[ExecutionMoveName] {
  const move = moveBetween<ExecutionStatus, (typeof EXECUTION_MOVES)[ExecutionMoveName]>(
    EXECUTION_MOVES,
    from,
    to,
  );
  if (!move) throw new Error(`An execution cannot move from ${from} to ${to}.`);
  return move;
}

/**
 * Whether the worker running a task must stop: its step has ended or is gone (cancelled with its
 * execution, timed out, failed), or its execution was cancelled.
 */
export const taskMustStop = (
  step: { status: StepStatus } | undefined,
  execution: { status: ExecutionStatus } | undefined,
): boolean =>
  !step || !UNFINISHED_STEP_STATUSES.includes(step.status) || execution?.status === EXECUTION_MOVES.cancel.to;
