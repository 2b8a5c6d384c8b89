import type { ClaimedResponse, FoundClaim, IdempotencyClaim, IdempotencyScope } from './idempotency.js';
import type {
  ActivityStatus,
  ExecutionStatus,
  InitiatedByType,
  StepStatus,
  WorkerTaskStatus,
} from './model.js';
import type { ApiKey } from './schemas/api-key.js';
import type { Execution, ExecutionSortBy, ExecutionStep, StepInsightField } from './schemas/execution.js';
import type { ScheduleStep, ScheduleSummary } from './schemas/schedule.js';

/**
 * What the domain needs from storage. Adapters (DynamoDB) implement these; they receive their SDK
 * clients in the constructor so the local runtime and tests change endpoints, not code.
 */

/** A stored schedule. `lastExecutionStatus` is not stored: it is read from the execution itself. */
export interface ScheduleRecord extends Omit<ScheduleSummary, 'lastExecutionStatus'> {
  steps: ScheduleStep[];
  /**
   * Optimistic-concurrency counter, bumped by edits, cron fires and runs decided one at a time (see
   * `runsOneAtATime`). Other runs leave it alone and only set `lastExecutionId`, so an edit
   * requires both unchanged.
   */
  version: number;
}

export interface ScheduleStore {
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Consistent reads of many schedules at once (BatchGetItem), by id; unknown ids are left out. */
  getMany(ids: readonly string[]): Promise<Map<string, ScheduleRecord>>;
  /**
   * Throws ConflictError when another schedule already has the name, ValidationError (naming
   * `steps`) when the schedule is too large to store.
   */
  create(schedule: ScheduleRecord): Promise<void>;
  /**
   * Throws ConflictError on a name clash, StaleVersionError when `previous` is no longer current,
   * ValidationError (naming `steps`) when the schedule is too large to store.
   */
  replace(schedule: ScheduleRecord, previous: ScheduleRecord): Promise<void>;
  /** Throws StaleVersionError when `previous` is no longer current. */
  delete(previous: ScheduleRecord): Promise<void>;
  listAll(): Promise<ScheduleRecord[]>;
  /** Ids of the schedules (of the given due partitions; all by default) due at `now`, longest due first. */
  listDue(now: string, partitions?: readonly number[]): Promise<string[]>;
}

/** What a run writes on its schedule (lastExecutionId, lastRunTime, and a cron fire's progress). */
export interface ScheduleRunUpdate {
  /** The schedule version the run was decided on. */
  version: number;
  /**
   * The run must be the only one recorded since the schedule was read at `version`, as every run of a
   * policy decided one at a time and every cron fire must: it is written in one transaction with the
   * schedule, on condition of that version, which it bumps. Other runs never refuse and are recorded
   * side by side: their transaction holds only their own items, so concurrent runs of one schedule
   * do not contend for it, and the schedule names them afterwards.
   */
  exclusive: boolean;
  lastRunTime: string;
  /** A cron fire also moves the schedule on to its next fire time and adds what it missed. */
  fire?: { nextRunTime: string | null; missedCount: number };
}

/**
 * A step of an execution as stored: its snapshot definition plus its progress. The run-insight
 * fields are on the row once known (workerId from the claim, the rest from the completion); before
 * that the service reads them from the step's task.
 */
export interface ExecutionStepRecord
  extends Omit<ExecutionStep, StepInsightField>,
    Partial<Pick<ExecutionStep, StepInsightField>> {
  /** Position of the step in the schedule (0-based); orders the rows. */
  ordinal: number;
  definition: ScheduleStep;
}

/** Which executions a list (and its totalCount) covers; every field narrows it. */
export interface ExecutionFilter {
  scheduleId?: string | undefined;
  /** Any of these statuses. */
  statuses?: readonly ExecutionStatus[] | undefined;
  initiatedByType?: InitiatedByType | undefined;
  /** Inclusive queuedAt bounds, as `toISOString()` text. */
  from?: string | undefined;
  to?: string | undefined;
}

export interface ExecutionPageRequest extends ExecutionFilter {
  sortBy: ExecutionSortBy;
  descending: boolean;
  pageSize: number;
  /** Either an offset (page-number access) or the cursor a previous page returned. */
  offset: number;
  cursor?: Record<string, unknown> | undefined;
}

export interface ExecutionPage {
  items: Execution[];
  totalCount: number;
  /** Where the next page starts, when there may be one. */
  cursor?: Record<string, unknown> | undefined;
}

/** Which step: of which execution, at which ordinal. */
export interface StepKey {
  executionId: string;
  ordinal: number;
}

/** An execution and one of its steps, as read together; either is undefined when missing. */
export interface ExecutionWithStep {
  execution: Execution | undefined;
  step: ExecutionStepRecord | undefined;
}

export interface ExecutionStore {
  get(id: string): Promise<Execution | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, Execution>>;
  getSteps(executionId: string): Promise<ExecutionStepRecord[]>;
  /** How many executions the filter covers, exactly (a range too wide to count is a ValidationError). */
  count(filter: ExecutionFilter): Promise<number>;
  page(request: ExecutionPageRequest): Promise<ExecutionPage>;
  /** Queued, InProgress and Paused executions, oldest first. */
  listActive(scheduleId?: string): Promise<Execution[]>;
  /**
   * Ids of the schedule's Queued executions, oldest first, from the by-status index: eventually
   * consistent, a hint (as a wake-up is), read without the items themselves.
   */
  queuedIds(scheduleId: string): Promise<string[]>;
  /**
   * Writes the execution and its steps (Queued and Pending, or a retry's carried over as they
   * ended) and the schedule's side of the run; `schedule` null: none (a retry of a deleted
   * schedule's execution), true. A retry (`retryOfExecutionId`) also sets the original's
   * `retriedByExecutionId` to it, in the execution's own transaction.
   * Exclusive: in one transaction, on condition that the schedule is still at `schedule.version`;
   * throws StaleVersionError otherwise. Side by side: the execution first, then the schedule names it
   * on condition that it still exists and still records runs side by side; false when it no longer
   * does (deleted, or its policy now decides runs one at a time), and the caller withdraws the run.
   *
   * With `claim`, the idempotency key's claim is written in the execution's own transaction, on
   * condition that the key is unclaimed or its claim has expired; throws StaleVersionError when it
   * is not (the caller reads the claim again and replays it).
   */
  create(
    execution: Execution,
    steps: ExecutionStepRecord[],
    schedule: ScheduleRunUpdate | null,
    claim?: IdempotencyClaim<ClaimedResponse>,
  ): Promise<boolean>;
  /**
   * Moves an active execution to Cancelled and its unfinished steps with it. Returns undefined when
   * the execution is no longer in `from` (someone else changed it first).
   */
  cancel(
    execution: Execution,
    from: ExecutionStatus,
    change: { completedAt: string; cancelledById: string | null; cancelledByName: string | null },
  ): Promise<Execution | undefined>;
  /**
   * Applies `patch` if the execution is still in `from`; moving to a terminal status also ends every
   * unfinished step as Cancelled, in the same transaction. Undefined when the status had moved.
   * `steps`: the execution's steps as the caller has just read them consistently, so that an
   * ending move does not read them again (the transaction's conditions on their statuses still
   * refuse it if one moved since).
   */
  transition(
    execution: Execution,
    from: ExecutionStatus,
    patch: Partial<Execution>,
    steps?: readonly ExecutionStepRecord[],
  ): Promise<Execution | undefined>;
  getStep(executionId: string, ordinal: number): Promise<ExecutionStepRecord | undefined>;
  /**
   * The execution and one of its steps, read consistently together (one BatchGetItem, where
   * `get` and `getStep` would take a request each); either is undefined when missing.
   */
  getWithStep(executionId: string, ordinal: number): Promise<ExecutionWithStep>;
  /** `getWithStep` of several steps, in the order given, with as few BatchGetItems as hold them. */
  getWithSteps(keys: readonly StepKey[]): Promise<ExecutionWithStep[]>;
  /**
   * What follows an execution's removal (retention): its steps are deleted and it leaves the
   * counters behind `totalCount`, its cell's too when `inCell` (its last image was counted in its
   * cell). Idempotent: a removal applied again, or twice at once, changes nothing more.
   */
  forget(execution: Execution, inCell: boolean): Promise<void>;
  /** Applies `patch` to a step still in one of `from`; false when it was not. */
  updateStep(
    executionId: string,
    ordinal: number,
    from: readonly StepStatus[],
    patch: Partial<ExecutionStep>,
  ): Promise<boolean>;
  /**
   * Keeps the callback token of the state machine parked on a waiting execution, on condition that
   * the execution is still Queued or Paused (the statuses that wait); false when it is not.
   */
  park(executionId: string, taskToken: string): Promise<boolean>;
  /** The token the execution was last parked with (spent once woken or timed out), if any. */
  parkToken(executionId: string): Promise<string | undefined>;
  /** Forgets the park token, if it is still `taskToken` (a newer park's token stays). */
  forgetParkToken(executionId: string, taskToken: string): Promise<void>;
}

export interface ActivityReport {
  activityStatus: ActivityStatus;
  errorMessage?: string | null | undefined;
  activityId?: string | null | undefined;
  output?: string | null | undefined;
}

/** A step handed to the workers of its pool; `taskToken` is the state machine's callback. */
export interface WorkerTask {
  taskId: string;
  executionId: string;
  ordinal: number;
  pool: string;
  status: WorkerTaskStatus;
  taskToken: string;
  /**
   * True when the state awaiting the token (RunSingleStep) takes its next move from the completion
   * (see WorkerService.complete); a Map item's output is discarded, so RunStep's tasks never carry one.
   */
  decidesNext?: boolean | undefined;
  /**
   * When the RunSingleStep token times out (its backstop): kept as the token is handed on from
   * task to task through a run of one-step stages (see Orchestrator.handOn). None for RunStep's.
   */
  backstopAt?: string | undefined;
  createdAt: string;
  workerId?: string | undefined;
  /** The credential that claimed the task (see `claimantOf`); only it may beat or complete it. */
  claimedBy?: string | undefined;
  /** Which claim took it: the worker's requestId, or one the service made up for a claim without. */
  claimId?: string | undefined;
  claimedAt?: string | undefined;
  lastHeartbeatAt?: string | undefined;
  heartbeatMessage?: string | undefined;
  /** The output the latest heartbeat that carried one reported, as kept (newest 16 KB). */
  output?: string | undefined;
  outcome?: ActivityReport | undefined;
  /** False when the outcome came after the step had ended without the worker (kept for the record). */
  outcomeAccepted?: boolean | undefined;
  completedAt?: string | undefined;
}

/** A queued task as the pool's index lists it: enough to pick which to try, not to claim it. */
export type QueuedTaskRef = Pick<WorkerTask, 'taskId' | 'createdAt'>;

/**
 * Who reports on a claimed task: the credential that claimed it (`claimedBy`) and, when the caller
 * names one, the `workerId` it claimed as. Stores make it a condition of the write itself.
 */
export interface TaskClaimant {
  claimedBy: string;
  workerId?: string | undefined;
}

/** How many tasks a claim takes at most (all it names when absent), and of which pool only. */
export interface ClaimLimits {
  max?: number;
  pool?: string;
}

export interface WorkerTaskStore {
  get(taskId: string): Promise<WorkerTask | undefined>;
  /** The tasks of these ids that exist, by id (one batch read; eventually consistent). */
  getMany(taskIds: readonly string[]): Promise<Map<string, WorkerTask>>;
  /** Writes the task and moves its step from one of `stepFrom` to Queued, atomically; false if the step moved. */
  enqueue(task: WorkerTask, stepFrom: readonly StepStatus[]): Promise<boolean>;
  /** Gives a live task a new callback token, and what awaits it (enqueueStep retried, or a new RunSingleStep). */
  replaceToken(
    taskId: string,
    awaited: Pick<WorkerTask, 'taskToken' | 'decidesNext' | 'backstopAt'>,
  ): Promise<void>;
  /** The tasks waiting in a pool, oldest first: their ids and when each was queued. */
  queuedIn(pool: string, limit: number): Promise<QueuedTaskRef[]>;
  /** Every task still waiting for a worker (all pools), oldest first. */
  allQueued(): Promise<WorkerTask[]>;
  /**
   * Tries the tasks in the order given until `max` are claimed, yielding each as it is claimed (so a
   * failure part way leaves the caller knowing what it holds): Queued → Claimed by `claimant` in
   * claim `claimId`, its step Queued → Processing, and the task on the claim's receipt, atomically.
   * A task is passed over when someone else won it, or when `pool` is given and it is not of that
   * pool (a signal names a task id only: the pool is what the claimant may serve). `now` is asked
   * at each claim: a step's timeout counts from its claimedAt.
   */
  claim(
    taskIds: readonly string[],
    claimant: Required<TaskClaimant>,
    claimId: string,
    now: () => string,
    limits?: ClaimLimits,
  ): AsyncIterable<WorkerTask>;
  /** The tasks claim `claimId` of `claimant` took that it still holds (a retried claim's answer). */
  claimedIn(claimant: Required<TaskClaimant>, claimId: string): Promise<WorkerTask[]>;
  /**
   * Claimed in `claimId` → Queued again and its step Processing → Queued, atomically: for a claim
   * whose answer cannot be given. Does nothing when the task is no longer held by that claim.
   */
  release(task: WorkerTask, claimId: string): Promise<void>;
  /**
   * Records a heartbeat on a task claimed by `claimant` (its message, null when none; its output when
   * it carries one, else the previous output stays); false when it is not (or no longer) so.
   */
  touch(
    taskId: string,
    claimant: TaskClaimant,
    now: string,
    message: string | undefined,
    output?: string | undefined,
  ): Promise<boolean>;
  /**
   * Claimed by `claimant` → Completed with the outcome, and the step Processing → `stepPatch.status`,
   * atomically. `late` when the step had already ended without the worker (the outcome is kept on
   * the task only); `not-claimed` when the task is not claimed by `claimant` (any more).
   */
  complete(
    task: WorkerTask,
    claimant: TaskClaimant,
    report: ActivityReport,
    now: string,
    stepPatch: Partial<ExecutionStep>,
  ): Promise<'ok' | 'late' | 'not-claimed'>;
  /** Marks a task whose step ended without it, so its worker is told to stop. */
  abandon(taskId: string): Promise<void>;
  /** The tasks `claimant` holds (Claimed), oldest claim first, at most `limit` (eventually consistent). */
  heldBy(claimant: Required<TaskClaimant>, limit: number): Promise<WorkerTask[]>;
}

/** A worker as its latest claim or heartbeat recorded it (one per credential and workerId). */
export interface WorkerRecord {
  workerId: string;
  /** The credential it claims with (see `claimantOf`). */
  claimedBy: string;
  /** The pools of its latest claim (a worker known only from a heartbeat: its task's pool). */
  pools: string[];
  /** The waitSeconds of its latest claim (0 when known only from a heartbeat). */
  waitSeconds: number;
  lastSeenAt: string;
}

export interface WorkerStore {
  /**
   * Records that the worker was seen at `lastSeenAt`, in one UpdateItem: a claim gives its pools and
   * waitSeconds; a heartbeat (no `claim`) keeps the previous ones, or `fallbackPools` when none.
   */
  seen(
    worker: Pick<WorkerRecord, 'workerId' | 'claimedBy' | 'lastSeenAt'>,
    claim: Pick<WorkerRecord, 'pools' | 'waitSeconds'> | { fallbackPools: string[] },
  ): Promise<void>;
  /** The workers seen at or after `since`, most recently seen first. */
  seenSince(since: string): Promise<WorkerRecord[]>;
}

/** A wake-up for waiting claims: task `taskId` was queued in `pool`. */
export interface QueuedSignal {
  pool: string;
  taskId: string;
  /** What `done` needs to drop this signal (an SQS receipt handle). */
  receipt: string;
}

/**
 * Wake-ups for waiting claims, one channel per pool. A signal is a hint, never the truth (the tasks
 * table is): one may be lost or come twice, so a claim still looks at the table now and then, and
 * checks the task named before it takes it. Each signal is received by one waiting claim only.
 */
export interface QueueSignals {
  /**
   * How long a signal lasts once sent (received or not): a task queued longer ago has no signal
   * left, and only a look at the table finds it.
   */
  readonly lifetimeMs: number;
  /** Tells one waiting claim of `pool` that `taskId` was queued. */
  queued(pool: string, taskId: string): Promise<void>;
  /**
   * Waits up to `waitMs` for signals of any of `pools`, answering as soon as some come (at most
   * `max`); none when the time is up. A signal received is not given to another claim until its
   * visibility lapses (then it is, unless `done` dropped it).
   */
  next(pools: readonly string[], waitMs: number, max: number): Promise<QueuedSignal[]>;
  /** The signals of `pools` there are now (at most `max`), without waiting; received as by `next`. */
  waiting(pools: readonly string[], max: number): Promise<QueuedSignal[]>;
  /** Drops signals dealt with: their task was claimed, or is no longer there to claim. */
  done(signals: readonly QueuedSignal[]): Promise<void>;
}

/** The state machine, as the domain needs it: one run per execution, named by the execution id. */
export interface Workflow {
  start(executionId: string): Promise<void>;
  stop(executionId: string, cause: string): Promise<void>;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or undefined when there is no such run. */
  describe(executionId: string): Promise<{ status: string; error?: string; cause?: string } | undefined>;
  /** The callbacks answer false when the token is no longer awaited (timed out, stopped, unknown). */
  sendTaskSuccess(taskToken: string, output: unknown): Promise<boolean>;
  sendTaskHeartbeat(taskToken: string): Promise<boolean>;
}

/** An event for consumers of the service (EventBridge), built by core/status-events.ts. */
export interface ServiceEvent {
  detailType: string;
  detail: Record<string, unknown>;
}

export interface EventPublisher {
  /** Publishes every event or throws: the caller's input is retried as a whole (at least once). */
  publish(events: readonly ServiceEvent[]): Promise<void>;
}

/** A committed change to a stored record, as a table's stream reports it (no `after`: removed). */
export interface RecordChange<T> {
  before?: T | undefined;
  after?: T | undefined;
}

/** A step row as the stream carries it: the step and the execution it belongs to. */
export interface StoredStep extends ExecutionStepRecord {
  executionId: string;
}

export interface StoredApiKey extends ApiKey {
  keyHash: string;
}

export interface ApiKeyStore {
  findByHash(keyHash: string): Promise<StoredApiKey | undefined>;
  create(key: StoredApiKey): Promise<void>;
  listAll(): Promise<StoredApiKey[]>;
  /** Returns false when no such key exists. */
  delete(id: string): Promise<boolean>;
}

/** Claims of idempotency keys (core/idempotency.ts); `ExecutionStore.create` makes them. */
export interface IdempotencyStore {
  /** The key's claim unexpired at `now` (epoch seconds), read consistently: its response and request hash. */
  find<T extends ClaimedResponse>(scope: IdempotencyScope, now: number): Promise<FoundClaim<T> | undefined>;
  /** Replaces the claim's response with the request's final one, when it differs from the claimed. */
  settle<T extends ClaimedResponse>(scope: IdempotencyScope, response: T): Promise<void>;
  /** Frees the key of a withdrawn run, if its claim still names that execution. */
  release(scope: IdempotencyScope, executionId: string): Promise<void>;
}

/** A conditional write found the record changed since it was read; the caller re-reads and retries. */
export class StaleVersionError extends Error {
  override readonly name = 'StaleVersionError';
}

export { type Clock, systemClock } from './clock.js';
