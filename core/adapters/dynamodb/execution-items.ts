import { ExecutionStatus, type StepStatus } from '../../model.js';
import type { ExecutionStepRecord } from '../../ports.js';
import type { Execution, ExecutionStep } from '../../schemas/execution.js';
import { ACTIVE_EXECUTION_STATUSES, isActiveExecutionStatus } from '../../transitions.js';
import { cellOf } from './counters.js';
import { conditionalUpdate } from './expressions.js';

/**
 * The items of the Executions and ExecutionSteps tables: an execution's fields and the keys of its
 * sort indexes, read back as an `Execution`; a step's row and its conditional update.
 */

type Item = Record<string, unknown>;

/** The partition key of the all-executions indexes. */
export const ALL_PK = 'EXECUTION';
/** The partition key of the sparse index of active executions. */
export const ACTIVE_PK = 'ACTIVE';
/** Sorts after any ISO date: a time not reached yet orders last ascending, first descending (as SQL NULLs). */
const NOT_YET = '~';

/**
 * The active statuses sort after every finished one ("InProgress" < "Paused" < "Queued", all after
 * "Failed"), so one schedule's active executions are a single range of its by-status index:
 * `kStatus >= ACTIVE_STATUS_FLOOR`. Checked here, at load, so a renamed status cannot silently
 * break the overlap policy.
 */
export const ACTIVE_STATUS_FLOOR = [...ACTIVE_EXECUTION_STATUSES].sort()[0] as string;
for (const status of Object.values(ExecutionStatus)) {
  if (status >= ACTIVE_STATUS_FLOOR !== isActiveExecutionStatus(status)) {
    throw new Error(`Execution status '${status}' breaks the active range of the by-status index.`);
  }
}

/** Keys of the sort indexes, recomputed on every write so they always agree with the fields. */
export function indexAttributes(e: Execution): Item {
  const tail = `${e.queuedAt}#${e.id}`;
  return {
    allPk: ALL_PK,
    kQueued: tail,
    kStarted: `${e.startedAt ?? NOT_YET}#${tail}`,
    kCompleted: `${e.completedAt ?? NOT_YET}#${tail}`,
    kStatus: `${e.status}#${tail}`,
    cellPk: cellOf(e),
    scheduleCellPk: `${e.scheduleId}#${cellOf(e)}`,
    ...(isActiveExecutionStatus(e.status) ? { activePk: ACTIVE_PK } : {}),
  };
}

const EXECUTION_FIELDS = [
  'id',
  'scheduleId',
  'scheduleName',
  'status',
  'currentStepIndex',
  'totalSteps',
  'queuedAt',
  'startedAt',
  'completedAt',
  'initiatedByType',
  'initiatedById',
  'initiatedByName',
  'errorMessage',
  'overlapPolicy',
  'scheduledFor',
  'cancelledById',
  'cancelledByName',
  'retryOfExecutionId',
  'retriedByExecutionId',
] as const satisfies readonly (keyof Execution)[];

export function toExecution(item: Item): Execution {
  const execution: Record<string, unknown> = {};
  for (const field of EXECUTION_FIELDS) execution[field] = item[field] ?? null;
  return execution as unknown as Execution;
}

/**
 * Whether an execution's cell counters hold it, as its item says: executions written before the
 * cells existed have no `cellPk` and are in no cell's counter until `countIntoCell` counts them.
 */
export const countedInCell = (item: Item): boolean => item.cellPk !== undefined;

/** A step's row as the store gives it: without the key of the execution it belongs to. */
export function toStepRecord(item: Item): ExecutionStepRecord {
  const { executionId: _executionId, ...step } = item;
  return step as unknown as ExecutionStepRecord;
}

/**
 * A conditional step update, usable alone or inside a transaction. Shared: the worker-task store's
 * transactions move a task and its step together, so they hold this ExecutionSteps item too.
 */
export function stepUpdate(
  table: string,
  executionId: string,
  ordinal: number,
  from: readonly StepStatus[],
  patch: Partial<ExecutionStep>,
) {
  return conditionalUpdate(table, { executionId, ordinal }, patch, { status: from });
}
