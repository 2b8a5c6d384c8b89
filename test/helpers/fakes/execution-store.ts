import { cellOf } from '../../../core/adapters/dynamodb/counters.js';
// The adapter's own item mapping and index keys: the fake reads and orders as it does.
import { indexAttributes, toExecution } from '../../../core/adapters/dynamodb/execution-items.js';
import { ExecutionSortKey } from '../../../core/adapters/dynamodb/tables.js';
import { ValidationError } from '../../../core/errors.js';
import { ExecutionStatus, InitiatedByType, StepStatus } from '../../../core/model.js';
import { olderFirst, SIDE_BY_SIDE_POLICIES } from '../../../core/overlap.js';
import { refusedPageToken } from '../../../core/paging.js';
import type {
  ExecutionFilter,
  ExecutionPage,
  ExecutionPageRequest,
  ExecutionStepRecord,
  ExecutionStore,
  StepKey,
} from '../../../core/ports.js';
import { StaleVersionError } from '../../../core/ports.js';
import type { Execution } from '../../../core/schemas/execution.js';
import { executionMove, isActiveExecutionStatus, isTerminalStepStatus } from '../../../core/transitions.js';
import { claimable, claimKey } from './idempotency-store.js';
import { applyPatch, copy, type MemoryTables, readMany } from './tables.js';

/** The adapter's sort keys (`kQueued`, `kStarted`, …), which order pages and carry the cursor. */
export const sortKeyOf = (e: Execution, sortBy: ExecutionPageRequest['sortBy']): string =>
  indexAttributes(e)[ExecutionSortKey[sortBy]] as string;

/** The counters an execution counts in (the adapter's ids without their shards). */
const totalCounters = (e: Pick<Execution, 'scheduleId'>) => [
  'executions',
  `executions#schedule#${e.scheduleId}`,
];
const cellCounters = (e: Pick<Execution, 'scheduleId' | 'status' | 'initiatedByType'>) => [
  `executions#cell#${cellOf(e)}`,
  `executions#schedule#${e.scheduleId}#cell#${cellOf(e)}`,
];

const narrowed = (filter: ExecutionFilter) =>
  filter.statuses !== undefined || filter.initiatedByType !== undefined;
const ranged = (filter: ExecutionFilter) => filter.from !== undefined || filter.to !== undefined;

/**
 * ExecutionStore in memory, with DynamoExecutionStore's conditions and answers: creates are
 * StaleVersionError on a moved schedule version (exclusive) or a live idempotency claim, false when
 * a side-by-side run finds its schedule gone or one at a time; transitions and cancels undefined
 * when the status moved; step updates false when the step is not in `from`; counts from counters
 * that the writes keep (so `forget` lowers them, as it does the adapter's), except a from/to range,
 * counted from the items and refused above `maxRangeCount`; pages in the adapter's key order, with
 * its `{ m }` cursor, and its refusal of startedAt/completedAt sorts under a filter or range.
 *
 * Where it is not exact:
 * - Everything here is one atomic step. The adapter's `transition` reads the unfinished steps before
 *   its transaction and fails (undefined) when one of them moved in between; here nothing moves in
 *   between, and listActive never lags (the adapter's index can, and it re-checks the items).
 * - Every execution is counted in its cell from its creation: there are no executions from before
 *   the cells, so nothing is counted into a cell late (`countIntoCell`), and `inCell: false` in
 *   `forget` only leaves the cell counters alone.
 * - No TTL: `forget` deletes the steps and lowers the counters; the execution item stays until a test
 *   removes it with `expire` (in DynamoDB the TTL deletion is what leads to `forget`).
 * - Keys compare as JavaScript strings (UTF-16 units), DynamoDB's as UTF-8 bytes: the same for the
 *   ASCII of ISO dates, statuses and GUIDs.
 */
export class MemoryExecutionStore implements ExecutionStore {
  constructor(
    private readonly db: MemoryTables,
    private readonly maxRangeCount = 10_000,
  ) {}

  async get(id: string): Promise<Execution | undefined> {
    const item = this.db.executions.get(id);
    return item && toExecution(item);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, Execution>> {
    return readMany(this.db.executions, ids, toExecution);
  }

  async getSteps(executionId: string): Promise<ExecutionStepRecord[]> {
    return [...(this.db.steps.get(executionId)?.values() ?? [])]
      .sort((a, b) => a.ordinal - b.ordinal)
      .map(copy);
  }

  async getStep(executionId: string, ordinal: number): Promise<ExecutionStepRecord | undefined> {
    const step = this.db.steps.get(executionId)?.get(ordinal);
    return step && copy(step);
  }

  async getWithStep(executionId: string, ordinal: number) {
    return { execution: await this.get(executionId), step: await this.getStep(executionId, ordinal) };
  }

  async getWithSteps(keys: readonly StepKey[]) {
    return Promise.all(keys.map(({ executionId, ordinal }) => this.getWithStep(executionId, ordinal)));
  }

  async count(filter: ExecutionFilter): Promise<number> {
    if (ranged(filter)) {
      const total = this.matching(filter).length;
      if (total > this.maxRangeCount) {
        const message = `The range holds more than ${this.maxRangeCount} executions, too many to count: narrow from/to`;
        throw new ValidationError({ from: [message], to: [message] });
      }
      return total;
    }
    let ids: string[];
    if (narrowed(filter)) {
      const statuses = filter.statuses ?? Object.values(ExecutionStatus);
      const types = filter.initiatedByType ? [filter.initiatedByType] : Object.values(InitiatedByType);
      const cells = statuses.flatMap((status) =>
        types.map((type) => cellOf({ status, initiatedByType: type })),
      );
      ids = cells.map((cell) =>
        filter.scheduleId
          ? `executions#schedule#${filter.scheduleId}#cell#${cell}`
          : `executions#cell#${cell}`,
      );
    } else {
      ids = [filter.scheduleId ? `executions#schedule#${filter.scheduleId}` : 'executions'];
    }
    return ids.reduce((sum, id) => sum + (this.db.counters.get(id) ?? 0), 0);
  }

  async page(request: ExecutionPageRequest): Promise<ExecutionPage> {
    const after = request.cursor ? checkCursor(request.cursor) : undefined;
    if (
      (narrowed(request) || ranged(request)) &&
      (request.sortBy === 'startedAt' || request.sortBy === 'completedAt')
    ) {
      throw new ValidationError({
        sortBy: [
          `Sorting by ${request.sortBy} cannot be combined with status, initiatedByType, from or to: use queuedAt or status`,
        ],
      });
    }
    const totalCount = await this.count(request);
    const direction = request.descending ? -1 : 1;
    const keyed = this.matching(request)
      .map((e) => ({ e, key: sortKeyOf(e, request.sortBy) }))
      .filter(({ key }) => after === undefined || (request.descending ? key < after : key > after))
      .sort((a, b) => direction * (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const page = keyed.slice(request.offset, request.offset + request.pageSize);
    const last = page.at(-1);
    const full = page.length === request.pageSize;
    return {
      items: page.map(({ e }) => toExecution(e)),
      totalCount,
      cursor: full && last ? { m: last.key } : undefined,
    };
  }

  async listActive(scheduleId?: string): Promise<Execution[]> {
    return [...this.db.executions.values()]
      .filter(
        (e) => isActiveExecutionStatus(e.status) && (scheduleId === undefined || e.scheduleId === scheduleId),
      )
      .map(toExecution)
      .sort(olderFirst);
  }

  async queuedIds(scheduleId: string): Promise<string[]> {
    return (await this.listActive(scheduleId))
      .filter((e) => e.status === ExecutionStatus.Queued)
      .map((e) => e.id);
  }

  async create(...[execution, steps, run, claim]: Parameters<ExecutionStore['create']>): Promise<boolean> {
    const schedule = this.db.schedules.get(execution.scheduleId);
    const claimed =
      claim !== undefined && !claimable(this.db.claims.get(claimKey(claim.scope)), claim.createdAt);
    const exists = this.db.executions.has(execution.id);
    const original = execution.retryOfExecutionId
      ? this.db.executions.get(execution.retryOfExecutionId)
      : undefined;
    if (execution.retryOfExecutionId && !original) {
      throw new StaleVersionError('The execution retried was removed since it was read.');
    }
    if (!run) {
      if (claimed || exists)
        throw new StaleVersionError('The idempotency key was claimed since it was read.');
    } else if (run.exclusive && (schedule?.version !== run.version || claimed || exists)) {
      throw new StaleVersionError('The schedule or the key changed since it was read.');
    }
    if (run && !run.exclusive && (claimed || exists)) {
      throw new StaleVersionError('The idempotency key was claimed since it was read.');
    }
    this.db.executions.set(execution.id, copy(execution));
    if (original) original.retriedByExecutionId = execution.id;
    this.db.steps.set(execution.id, new Map(steps.map((step) => [step.ordinal, copy(step)])));
    for (const id of [...totalCounters(execution), ...cellCounters(execution)]) this.add(id, 1);
    if (claim) {
      this.db.claims.set(claimKey(claim.scope), {
        operation: claim.scope.operation,
        resourceId: claim.scope.resourceId,
        ...(claim.scope.requestHash === undefined ? {} : { requestHash: claim.scope.requestHash }),
        response: copy(claim.response),
        createdAt: claim.createdAt,
        expiresAt: claim.expiresAt,
      });
    }
    if (!run) return true;
    // Side by side: the execution is written; the schedule names it only if it still records runs so.
    if (!schedule || (!run.exclusive && !SIDE_BY_SIDE_POLICIES.includes(schedule.overlapPolicy)))
      return false;
    const named = { ...schedule, lastExecutionId: execution.id, lastRunTime: run.lastRunTime };
    if (run.exclusive) named.version = run.version + 1;
    if (run.fire) Object.assign(named, run.fire);
    this.db.schedules.set(schedule.id, named);
    return true;
  }

  cancel(...[execution, from, change]: Parameters<ExecutionStore['cancel']>): Promise<Execution | undefined> {
    return this.transition(execution, from, { ...change, status: ExecutionStatus.Cancelled });
  }

  async transition(...[execution, from, patch]: Parameters<ExecutionStore['transition']>) {
    // As the adapter answers: the execution as the caller had it, with the patch.
    const next: Execution = { ...execution, ...patch };
    // A move the table of transitions does not allow is refused before anything is read, as there.
    const move = executionMove(from, next.status);
    const stored = this.db.executions.get(execution.id);
    if (!stored || stored.status !== from) return undefined;
    this.db.executions.set(execution.id, applyPatch(stored, patch));
    if (move.ends) {
      for (const step of this.db.steps.get(execution.id)?.values() ?? []) {
        if (isTerminalStepStatus(step.status)) continue;
        step.status = StepStatus.Cancelled;
        step.completedAt = next.completedAt ?? new Date().toISOString();
      }
    }
    if (next.status !== from) {
      for (const id of cellCounters({ ...execution, status: from })) this.add(id, -1);
      for (const id of cellCounters(next)) this.add(id, 1);
    }
    return next;
  }

  async forget(execution: Execution, inCell: boolean): Promise<void> {
    this.db.steps.delete(execution.id);
    if (this.db.forgotten.has(execution.id)) return;
    this.db.forgotten.add(execution.id);
    const counters = inCell
      ? [...totalCounters(execution), ...cellCounters(execution)]
      : totalCounters(execution);
    for (const id of counters) this.add(id, -1);
  }

  async updateStep(...[executionId, ordinal, from, patch]: Parameters<ExecutionStore['updateStep']>) {
    const steps = this.db.steps.get(executionId);
    const step = steps?.get(ordinal);
    if (!steps || !step || !from.includes(step.status)) return false;
    steps.set(ordinal, applyPatch(step, patch));
    return true;
  }

  async park(executionId: string, taskToken: string): Promise<boolean> {
    const status = this.db.executions.get(executionId)?.status;
    if (status !== ExecutionStatus.Queued && status !== ExecutionStatus.Paused) return false;
    this.db.parkTokens.set(executionId, taskToken);
    return true;
  }

  async parkToken(executionId: string): Promise<string | undefined> {
    return this.db.parkTokens.get(executionId);
  }

  async forgetParkToken(executionId: string, taskToken: string): Promise<void> {
    if (this.db.parkTokens.get(executionId) === taskToken) this.db.parkTokens.delete(executionId);
  }

  /** Fake only: the TTL deletion of an ended execution's item (what precedes `forget` in DynamoDB). */
  expire(executionId: string): Execution | undefined {
    const item = this.db.executions.get(executionId);
    this.db.executions.delete(executionId);
    this.db.parkTokens.delete(executionId);
    return item && toExecution(item);
  }

  /** The executions a filter covers, by the index keys the adapter reads (from/to bound kQueued). */
  private matching(filter: ExecutionFilter): Execution[] {
    const upper = filter.to === undefined ? undefined : `${filter.to}#~`;
    return [...this.db.executions.values()].filter((e) => {
      const key = sortKeyOf(e, 'queuedAt');
      return (
        (filter.scheduleId === undefined || e.scheduleId === filter.scheduleId) &&
        (filter.statuses === undefined || filter.statuses.includes(e.status)) &&
        (filter.initiatedByType === undefined || e.initiatedByType === filter.initiatedByType) &&
        (filter.from === undefined || key >= filter.from) &&
        (upper === undefined || key <= upper)
      );
    });
  }

  private add(counter: string, delta: number): void {
    this.db.counters.set(counter, (this.db.counters.get(counter) ?? 0) + delta);
  }
}

/** The adapter's cursor check: `{ m: <non-empty string> }` and nothing else. */
function checkCursor(cursor: Record<string, unknown>): string {
  const value = cursor.m;
  if (Object.keys(cursor).length !== 1 || typeof value !== 'string' || value === '') throw refusedPageToken();
  return value;
}
