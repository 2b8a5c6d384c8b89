import type { ExecutionStatus } from './model.js';
import type { ApiKey } from './schemas/api-key.js';
import type { Execution, ExecutionSortBy, ExecutionStep } from './schemas/execution.js';
import type { ScheduleStep, ScheduleSummary } from './schemas/schedule.js';

/**
 * What the domain needs from storage. Adapters (DynamoDB) implement these; they receive their SDK
 * clients in the constructor so the local runtime and tests change endpoints, not code.
 */

/** A stored schedule. `lastExecutionStatus` is not stored: it is read from the execution itself. */
export interface ScheduleRecord extends Omit<ScheduleSummary, 'lastExecutionStatus'> {
  steps: ScheduleStep[];
  /** Optimistic-concurrency counter: every write of the schedule (edit, run) bumps it. */
  version: number;
}

export interface ScheduleStore {
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Throws ConflictError when another schedule already has the name. */
  create(schedule: ScheduleRecord): Promise<void>;
  /** Throws ConflictError on a name clash, StaleVersionError when `previous` is no longer current. */
  replace(schedule: ScheduleRecord, previous: ScheduleRecord): Promise<void>;
  /** Throws StaleVersionError when `previous` is no longer current. */
  delete(previous: ScheduleRecord): Promise<void>;
  listAll(): Promise<ScheduleRecord[]>;
}

/** A step of an execution as stored: its snapshot definition plus its progress. */
export interface ExecutionStepRecord extends ExecutionStep {
  /** Position of the step in the schedule (0-based); orders the rows. */
  ordinal: number;
  definition: ScheduleStep;
}

export interface ExecutionPageRequest {
  scheduleId?: string | undefined;
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

export interface ExecutionStore {
  get(id: string): Promise<Execution | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, Execution>>;
  getSteps(executionId: string): Promise<ExecutionStepRecord[]>;
  countFor(scheduleId?: string): Promise<number>;
  page(request: ExecutionPageRequest): Promise<ExecutionPage>;
  /** Queued, InProgress and Paused executions, oldest first. */
  listActive(scheduleId?: string): Promise<Execution[]>;
  /**
   * Writes the execution, its steps and the schedule's `lastExecutionId` in one transaction, on
   * condition that the schedule is still at `scheduleVersion`; throws StaleVersionError otherwise.
   */
  create(execution: Execution, steps: ExecutionStepRecord[], scheduleVersion: number): Promise<void>;
  /**
   * Moves an active execution to Cancelled and its unfinished steps with it. Returns undefined when
   * the execution is no longer in `from` (someone else changed it first).
   */
  cancel(
    execution: Execution,
    from: ExecutionStatus,
    change: { completedAt: string; cancelledById: string; cancelledByName: string },
  ): Promise<Execution | undefined>;
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

/** A conditional write found the record changed since it was read; the caller re-reads and retries. */
export class StaleVersionError extends Error {
  override readonly name = 'StaleVersionError';
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
