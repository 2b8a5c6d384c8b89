import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../errors.js';
import type { ClaimedResponse, IdempotencyClaim } from '../../idempotency.js';
import { ExecutionStatus, InitiatedByType, type StepStatus } from '../../model.js';
import { olderFirst } from '../../overlap.js';
import { refusedPageToken } from '../../paging.js';
import type {
  ExecutionFilter,
  ExecutionPage,
  ExecutionPageRequest,
  ExecutionStepRecord,
  ExecutionStore,
  ScheduleRunUpdate,
} from '../../ports.js';
import { StaleVersionError } from '../../ports.js';
import type { Execution, ExecutionStep } from '../../schemas/execution.js';
import {
  ACTIVE_EXECUTION_STATUSES,
  canMove,
  EXECUTION_MOVES,
  executionMove,
  isActiveExecutionStatus,
  PARKING_EXECUTION_STATUSES,
  STEP_MOVES,
} from '../../transitions.js';
import {
  batchDelete,
  batchGet,
  cancellationCodes,
  queryAll,
  transactWrite,
  withConflictRetry,
} from './client.js';
import {
  cellCounterIds,
  cellOf,
  countedIds,
  counterIdsOf,
  counterUpdate,
  randomShard,
  totalCounterIds,
} from './counters.js';
import { claimPut } from './idempotency-store.js';
import { scheduleRunUpdate } from './schedule-store.js';
import { EXPIRES_AT, ExecutionIndex, ExecutionSortKey, type TableNames } from './tables.js';

type Item = Record<string, unknown>;

const ALL_PK = 'EXECUTION';
/** The state machine's callback token while it is parked on the execution; not part of `Execution`. */
const PARK_TOKEN = 'parkToken';
const ACTIVE_PK = 'ACTIVE';
/** Sorts after any ISO date: a time not reached yet orders last ascending, first descending (as SQL NULLs). */
const NOT_YET = '~';

/**
 * Widest queuedAt range whose totalCount is counted: a range has no counter, so its count reads the
 * keys in it (KEYS_ONLY, `Select: COUNT`, ~160 RCU at the cap), and a wider range is refused, not guessed.
 */
export const MAX_RANGE_COUNT = 10_000;

/**
 * The active statuses sort after every finished one ("InProgress" < "Paused" < "Queued", all after
 * "Failed"), so one schedule's active executions are a single range of its by-status index:
 * `kStatus >= ACTIVE_STATUS_FLOOR`. Checked here, at load, so a renamed status cannot silently
 * break the overlap policy.
 */
const ACTIVE_STATUS_FLOOR = [...ACTIVE_EXECUTION_STATUSES].sort()[0] as string;
for (const status of Object.values(ExecutionStatus)) {
  if (status >= ACTIVE_STATUS_FLOOR !== isActiveExecutionStatus(status)) {
    throw new Error(`Execution status '${status}' breaks the active range of the by-status index.`);
  }
}

/** Executions are kept 90 days after they end unless configured otherwise (SPEC). */
export const DEFAULT_RETENTION_SECONDS = 90 * 86_400;

/** The TTL value (epoch seconds) of something that ended at `endedAt` (now when unknown). */
export const expiresAt = (endedAt: string | null | undefined, retentionSeconds: number): number =>
  Math.floor((endedAt ? Date.parse(endedAt) : Date.now()) / 1000) + retentionSeconds;

/**
 * How long the marker of a forgotten execution is kept: longer than its removal can come back. A
 * stream keeps a record 24 hours, and every retry, split or replay of a batch reads it from there.
 */
export const FORGOTTEN_RETENTION_SECONDS = 14 * 86_400;

/**
 * Whether an execution's cell counters hold it, as its item says: executions written before the
 * cells existed have no `cellPk` and are in no cell's counter until {@link countIntoCell} counts them.
 */
export const countedInCell = (item: Item): boolean => item.cellPk !== undefined;

/**
 * An execution has `cellPk` exactly when its cell's counters hold it: this gives one such execution its
 * cell keys and counts it into its cell in one transaction, on condition that it still has no
 * `cellPk` and is still in the status read. So whoever gets there first (the backfill, a rerun of it,
 * or a transition of that execution) counts it, and only once. Returns whether the execution was
 * uncounted when read (`seen`, the item as just read, saves the first read); false if it is gone.
 */
export async function countIntoCell(
  client: DynamoDBDocumentClient,
  tables: Pick<TableNames, 'executions' | 'counters'>,
  id: string,
  seen?: Item,
): Promise<boolean> {
  let item = seen ?? (await readItem(client, tables.executions, id));
  if (!item || countedInCell(item)) return false;
  for (;;) {
    const execution = toExecution(item);
    const { cellPk, scheduleCellPk } = indexAttributes(execution);
    try {
      await transactWrite(client, [
        {
          Update: {
            TableName: tables.executions,
            Key: { id },
            UpdateExpression: 'SET cellPk = :cell, scheduleCellPk = :scheduleCell',
            ConditionExpression: 'attribute_not_exists(cellPk) AND #status = :status',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':cell': cellPk,
              ':scheduleCell': scheduleCellPk,
              ':status': execution.status,
            },
          },
        },
        ...cellCounterIds(execution, 0).map((counter) => counterUpdate(tables.counters, counter, 1)),
      ]);
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.[0] !== 'ConditionalCheckFailed') throw error;
    }
    // Moved or counted meanwhile: counted is done, moved is counted in its new status.
    item = await readItem(client, tables.executions, id);
    if (!item || countedInCell(item)) return true;
  }
}

/** A transaction whose condition failed wrote on something changed since it was read. */
async function staleOnCondition(write: Promise<void>, what: string): Promise<void> {
  try {
    await write;
  } catch (error) {
    if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) {
      throw new StaleVersionError(`${what} since it was read.`, { cause: error });
    }
    throw error;
  }
}

async function readItem(client: DynamoDBDocumentClient, table: string, id: string) {
  const { Item } = await client.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true }));
  return Item;
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

export class DynamoExecutionStore implements ExecutionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: Pick<
      TableNames,
      'executions' | 'executionSteps' | 'counters' | 'schedules' | 'idempotencyKeys'
    >,
    /** How long an execution is kept once it has ended; TTL then removes it (and the change feed its steps). */
    private readonly retentionSeconds: number = DEFAULT_RETENTION_SECONDS,
    /** The most executions a from/to count reads before refusing the range. */
    private readonly maxRangeCount: number = MAX_RANGE_COUNT,
  ) {}

  async get(id: string): Promise<Execution | undefined> {
    const item = await readItem(this.client, this.tables.executions, id);
    return item ? toExecution(item) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, Execution>> {
    const unique = [...new Set(ids)];
    const items = await batchGet(
      this.client,
      this.tables.executions,
      unique.map((id) => ({ id })),
    );
    return new Map(items.map((item) => [item.id as string, toExecution(item)]));
  }

  async getSteps(executionId: string): Promise<ExecutionStepRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.tables.executionSteps,
      KeyConditionExpression: 'executionId = :id',
      ExpressionAttributeValues: { ':id': executionId },
      ConsistentRead: true,
    });
    return items.map(({ executionId: _executionId, ...step }) => step as unknown as ExecutionStepRecord);
  }

  async count(filter: ExecutionFilter): Promise<number> {
    if (filter.from !== undefined || filter.to !== undefined) return this.countRange(filter);
    const cells = narrowed(filter)
      ? cellsOf(filter).map(({ status, type }) => cellOf({ status, initiatedByType: type }))
      : undefined;
    const ids = countedIds(filter.scheduleId, cells);
    // Eventually consistent: a count a moment behind is fine for paging, and costs half.
    const items = await batchGet(
      this.client,
      this.tables.counters,
      ids.map((id) => ({ id })),
    );
    return items.reduce((sum, item) => sum + Number(item.count ?? 0), 0);
  }

  /** Counts the index keys in the range, up to MAX_RANGE_COUNT: no counter knows a range. */
  private async countRange(filter: ExecutionFilter): Promise<number> {
    let total = 0;
    const range = rangeOf(filter);
    await Promise.all(
      partitionsOf(filter, 'queuedAt').map(async (partition) => {
        // A range's bounds are inclusive: nothing to drop.
        const { drop: _drop, ...condition } = keyCondition(partition, range.lower, range.upper);
        let start: Item | undefined;
        do {
          const result = await this.client.send(
            new QueryCommand({
              TableName: this.tables.executions,
              ...condition,
              Select: 'COUNT',
              ExclusiveStartKey: start,
            }),
          );
          total += result.Count ?? 0;
          if (total > this.maxRangeCount) {
            const message = `The range holds more than ${this.maxRangeCount} executions, too many to count: narrow from/to`;
            throw new ValidationError({ from: [message], to: [message] });
          }
          start = result.LastEvaluatedKey;
        } while (start);
      }),
    );
    return total;
  }

  /**
   * One page in the requested order. Only keys are read up to the page (KEYS_ONLY indexes, ~100
   * bytes a key), then the page's items come from one BatchGetItem: page 1 costs the same however
   * many executions exist, and an offset costs its keys, bounded by MAX_PAGE_OFFSET (per cell read).
   */
  async page(request: ExecutionPageRequest): Promise<ExecutionPage> {
    // The count and the keys are independent reads: one round trip instead of two.
    const [totalCount, keys] = await Promise.all([this.count(request), this.readKeys(request)]);
    const pageKeys = keys.slice(request.offset, request.offset + request.pageSize);
    const found = await this.getMany(pageKeys.map((key) => key.id as string));
    const items = pageKeys.flatMap((key) => found.get(key.id as string) ?? []);
    const last = pageKeys.at(-1);
    const full = pageKeys.length === request.pageSize;
    return { items, totalCount, cursor: full && last ? { m: last[MERGE_KEY] } : undefined };
  }

  /**
   * Index keys in order, from the cursor (or the start) up to the end of the requested page: a merge
   * of the filter's partitions (one, unless the filter is a union of cells), each read only as far
   * as the merge needs it.
   */
  private async readKeys(request: ExecutionPageRequest): Promise<Item[]> {
    const wanted = request.offset + request.pageSize;
    const descending = request.descending;
    const range = rangeOf(request);
    const after = request.cursor ? checkCursor(request.cursor) : undefined;
    const streams = partitionsOf(request, request.sortBy).flatMap((partition) => {
      let { lower, upper } = range;
      if (after !== undefined) {
        if (after.startsWith(partition.prefix)) {
          const bound = { value: after.slice(partition.prefix.length), strict: true };
          if (descending) upper = upper === undefined || bound.value <= upper.value ? bound : upper;
          else lower = lower === undefined || bound.value >= lower.value ? bound : lower;
        } else if (partition.prefix < after !== descending) {
          // The whole partition sorts on one side of the cursor, and that side is behind us.
          return [];
        }
      }
      // The cursor is past the range's far end: nothing of this partition is left.
      if (lower && upper && lower.value > upper.value) return [];
      const query = keyCondition(partition, lower, upper);
      return [{ partition, query, buffer: [] as Item[], start: undefined as Item | undefined, done: false }];
    });
    /** Reads on until the stream has a head or is exhausted: the merge must see every partition's next key. */
    const fill = async (stream: (typeof streams)[number], limit: number) => {
      const sortKey = stream.partition.sortKey;
      while (stream.buffer.length === 0 && !stream.done) {
        const { drop, ...condition } = stream.query;
        const result = await this.client.send(
          new QueryCommand({
            TableName: this.tables.executions,
            ...condition,
            ScanIndexForward: !descending,
            Limit: limit + drop.length,
            ExclusiveStartKey: stream.start,
          }),
        );
        for (const item of result.Items ?? []) {
          if (drop.includes(item[sortKey] as string)) continue;
          stream.buffer.push({
            ...item,
            [MERGE_KEY]: `${stream.partition.prefix}${item[sortKey] as string}`,
          });
        }
        stream.start = result.LastEvaluatedKey;
        stream.done = stream.start === undefined;
      }
    };
    const keys: Item[] = [];
    while (keys.length < wanted) {
      await Promise.all(streams.map((stream) => fill(stream, wanted - keys.length)));
      let best: (typeof streams)[number] | undefined;
      for (const stream of streams) {
        const head = stream.buffer[0]?.[MERGE_KEY] as string | undefined;
        if (head === undefined) continue;
        const bestHead = best?.buffer[0]?.[MERGE_KEY] as string | undefined;
        if (bestHead === undefined || (descending ? head > bestHead : head < bestHead)) best = stream;
      }
      if (!best) break;
      keys.push(best.buffer.shift() as Item);
    }
    return keys;
  }

  async listActive(scheduleId?: string): Promise<Execution[]> {
    // One schedule's active executions are a range of its by-status index, so a run reads only its
    // own schedule's, however many other executions are active.
    const keys = await queryAll(
      this.client,
      scheduleId
        ? {
            TableName: this.tables.executions,
            IndexName: ExecutionIndex.scheduleByStatus,
            KeyConditionExpression: 'scheduleId = :pk AND kStatus >= :floor',
            ExpressionAttributeValues: { ':pk': scheduleId, ':floor': ACTIVE_STATUS_FLOOR },
          }
        : {
            TableName: this.tables.executions,
            IndexName: ExecutionIndex.active,
            KeyConditionExpression: 'activePk = :pk',
            ExpressionAttributeValues: { ':pk': ACTIVE_PK },
          },
    );
    const found = await this.getMany(keys.map((key) => key.id as string));
    // The index lags the table a little: re-check what the items themselves say.
    return keys
      .flatMap((key) => found.get(key.id as string) ?? [])
      .filter((e) => isActiveExecutionStatus(e.status))
      .sort(olderFirst);
  }

  async create(
    execution: Execution,
    steps: ExecutionStepRecord[],
    run: ScheduleRunUpdate | null,
    claim?: IdempotencyClaim<ClaimedResponse>,
  ): Promise<boolean> {
    const own = [
      {
        Put: {
          TableName: this.tables.executions,
          Item: { ...execution, ...indexAttributes(execution) },
          ConditionExpression: 'attribute_not_exists(id)',
        },
      },
      ...steps.map((step) => ({
        Put: { TableName: this.tables.executionSteps, Item: { ...step, executionId: execution.id } },
      })),
      ...counterIdsOf(execution, randomShard()).map((id) => this.counterUpdate(id, 1)),
      // Its only condition that can fail is the claim's (the execution's id is new): the key was used.
      ...(claim ? [claimPut(this.tables.idempotencyKeys, claim)] : []),
      // A retry: the original names it, the latest retry winning.
      ...(execution.retryOfExecutionId
        ? [
            {
              Update: {
                TableName: this.tables.executions,
                Key: { id: execution.retryOfExecutionId },
                UpdateExpression: 'SET retriedByExecutionId = :retry',
                ConditionExpression: 'attribute_exists(id)',
                ExpressionAttributeValues: { ':retry': execution.id },
              },
            },
          ]
        : []),
    ];
    if (!run) {
      await staleOnCondition(transactWrite(this.client, own), 'The idempotency key or the original changed');
      return true;
    }
    const named = scheduleRunUpdate(this.tables.schedules, execution.scheduleId, execution.id, run);
    if (run.exclusive) {
      await staleOnCondition(transactWrite(this.client, [named, ...own]), 'The schedule or the key changed');
      return true;
    }
    // Side by side, the schedule item stays out of the transaction: in it, every concurrent run of
    // the schedule would conflict with every other (TransactionConflict), as its counters would if
    // they were not sharded. What the schedule's item guarded (that it exists and still admits runs
    // side by side) is checked when it names the run, just after.
    await staleOnCondition(transactWrite(this.client, own), 'The idempotency key was claimed');
    try {
      await withConflictRetry(() => this.client.send(new UpdateCommand(named.Update)));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  cancel(
    execution: Execution,
    from: ExecutionStatus,
    change: { completedAt: string; cancelledById: string | null; cancelledByName: string | null },
  ): Promise<Execution | undefined> {
    return this.transition(execution, from, { ...change, status: EXECUTION_MOVES.cancel.to });
  }

  async transition(
    execution: Execution,
    from: ExecutionStatus,
    patch: Partial<Execution>,
  ): Promise<Execution | undefined> {
    const next: Execution = { ...execution, ...patch };
    // The table says whether the move is allowed, and what it carries when it ends the execution.
    const ending = executionMove(from, next.status).ends;
    const unfinished = ending
      ? (await this.getSteps(execution.id)).filter((step) => canMove(STEP_MOVES.cancel, step.status))
      : [];
    const { activePk: _activePk, ...keys } = indexAttributes(next);
    const expiry = ending ? { [EXPIRES_AT]: expiresAt(next.completedAt, this.retentionSeconds) } : {};
    const update = setExpression({ ...patch, ...keys, ...expiry }, { status: from });
    try {
      await transactWrite(this.client, [
        {
          Update: {
            TableName: this.tables.executions,
            Key: { id: execution.id },
            UpdateExpression: `${update.expression}${ending ? ' REMOVE activePk' : ''}`,
            // Only a counted execution may leave its cell's counter (see countIntoCell).
            ConditionExpression: `${update.condition} AND attribute_exists(cellPk)`,
            ExpressionAttributeNames: update.names,
            ExpressionAttributeValues: update.values,
          },
        },
        ...unfinished.map((step) =>
          this.stepUpdate(execution.id, step.ordinal, [step.status], {
            status: STEP_MOVES.cancel.to,
            completedAt: next.completedAt ?? new Date().toISOString(),
          }),
        ),
        // The execution leaves its status's cell for the new one's, in the same transaction.
        ...(next.status === from
          ? []
          : [
              ...cellCounterIds({ ...execution, status: from }, randomShard()).map((id) =>
                this.counterUpdate(id, -1),
              ),
              ...cellCounterIds(next, randomShard()).map((id) => this.counterUpdate(id, 1)),
            ]),
      ]);
      return next;
    } catch (error) {
      const codes = cancellationCodes(error);
      // An execution from before the cells, not backfilled yet: count it in, then move it.
      if (
        codes?.[0] === 'ConditionalCheckFailed' &&
        (await countIntoCell(this.client, this.tables, execution.id))
      ) {
        return this.transition(execution, from, patch);
      }
      if (codes?.includes('ConditionalCheckFailed')) return undefined;
      throw error;
    }
  }

  async forget(execution: Execution, inCell: boolean): Promise<void> {
    // Deleting what is gone already deletes nothing: a batch seen again deletes the rest.
    const keys = await queryAll(this.client, {
      TableName: this.tables.executionSteps,
      KeyConditionExpression: 'executionId = :id',
      ExpressionAttributeValues: { ':id': execution.id },
      ProjectionExpression: 'executionId, ordinal',
    });
    await batchDelete(this.client, this.tables.executionSteps, keys);
    // A removal comes again when its batch is retried, split or replayed, and may come twice at
    // once: the marker, written with the decrements on condition that it is not there yet, lets
    // exactly one of them through.
    const shard = randomShard();
    try {
      await transactWrite(this.client, [
        {
          Put: {
            TableName: this.tables.counters,
            Item: {
              id: `forgotten#${execution.id}`,
              [EXPIRES_AT]: expiresAt(null, FORGOTTEN_RETENTION_SECONDS),
            },
            ConditionExpression: 'attribute_not_exists(id)',
          },
        },
        // Any shard will do: the count is their sum.
        ...(inCell ? counterIdsOf(execution, shard) : totalCounterIds(execution, shard)).map((id) =>
          this.counterUpdate(id, -1),
        ),
      ]);
    } catch (error) {
      // Marked: this removal has been forgotten already.
      if (cancellationCodes(error)?.[0] !== 'ConditionalCheckFailed') throw error;
    }
  }

  async park(executionId: string, taskToken: string): Promise<boolean> {
    const { Update } = conditionalUpdate(
      this.tables.executions,
      { id: executionId },
      { [PARK_TOKEN]: taskToken },
      { status: PARKING_EXECUTION_STATUSES },
    );
    return sendIfMatches(this.client, Update);
  }

  async parkToken(executionId: string): Promise<string | undefined> {
    // Consistent: a wake-up must see a token stored just before it (see Orchestrator.park).
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tables.executions,
        Key: { id: executionId },
        ProjectionExpression: PARK_TOKEN,
        ConsistentRead: true,
      }),
    );
    return Item?.[PARK_TOKEN] as string | undefined;
  }

  private counterUpdate(id: string, delta: number) {
    return counterUpdate(this.tables.counters, id, delta);
  }

  async getStep(executionId: string, ordinal: number): Promise<ExecutionStepRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tables.executionSteps,
        Key: { executionId, ordinal },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    const { executionId: _executionId, ...step } = Item;
    return step as unknown as ExecutionStepRecord;
  }

  async updateStep(
    executionId: string,
    ordinal: number,
    from: readonly StepStatus[],
    patch: Partial<ExecutionStep>,
  ): Promise<boolean> {
    return sendIfMatches(this.client, this.stepUpdate(executionId, ordinal, from, patch).Update);
  }

  /** A conditional step update, usable alone or inside a transaction. */
  stepUpdate(
    executionId: string,
    ordinal: number,
    from: readonly StepStatus[],
    patch: Partial<ExecutionStep>,
  ) {
    return conditionalUpdate(this.tables.executionSteps, { executionId, ordinal }, patch, { status: from });
  }
}

/** Sends one conditional update alone; false when its condition did not hold (nothing written). */
export async function sendIfMatches(
  client: DynamoDBDocumentClient,
  update: ReturnType<typeof conditionalUpdate>['Update'],
): Promise<boolean> {
  try {
    await client.send(new UpdateCommand(update));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * A conditional update of one item (see `setExpression`), usable alone or inside a transaction;
 * `remove` names attributes the same write drops.
 */
export function conditionalUpdate(
  table: string,
  key: Record<string, unknown>,
  patch: Record<string, unknown>,
  expected: Record<string, unknown>,
  remove: readonly string[] = [],
) {
  const update = setExpression(patch, expected);
  return {
    Update: {
      TableName: table,
      Key: key,
      UpdateExpression:
        remove.length > 0 ? `${update.expression} REMOVE ${remove.join(', ')}` : update.expression,
      ConditionExpression: update.condition,
      ExpressionAttributeNames: update.names,
      ExpressionAttributeValues: update.values,
    },
  };
}

/**
 * `SET a = :a, …` for the defined fields of `patch`, on condition that each field of `expected` is
 * one of the given values (`#status IN (…)`), as one DynamoDB update.
 */
export function setExpression(patch: Record<string, unknown>, expected: Record<string, unknown>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const [i, [field, value]] of Object.entries(patch).entries()) {
    if (value === undefined) continue;
    names[`#s${i}`] = field;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  }
  const conditions: string[] = [];
  for (const [i, [field, allowed]] of Object.entries(expected).entries()) {
    const options = Array.isArray(allowed) ? allowed : [allowed];
    names[`#c${i}`] = field;
    const placeholders = options.map((option, j) => {
      values[`:c${i}_${j}`] = option;
      return `:c${i}_${j}`;
    });
    conditions.push(`#c${i} IN (${placeholders.join(', ')})`);
  }
  return {
    expression: `SET ${sets.join(', ')}`,
    condition: conditions.join(' AND '),
    names,
    values,
  };
}

const ALL_EXECUTIONS_INDEX = {
  queuedAt: ExecutionIndex.allByQueuedAt,
  startedAt: ExecutionIndex.allByStartedAt,
  completedAt: ExecutionIndex.allByCompletedAt,
  status: ExecutionIndex.allByStatus,
} as const;

const PER_SCHEDULE_INDEX = {
  queuedAt: ExecutionIndex.scheduleByQueuedAt,
  startedAt: ExecutionIndex.scheduleByStartedAt,
  completedAt: ExecutionIndex.scheduleByCompletedAt,
  status: ExecutionIndex.scheduleByStatus,
} as const;

/** Where an index key is held, beside the key, during a merge: the value the merge orders by. */
const MERGE_KEY = 'm';

/** One partition of one index that a list reads; `prefix` + its sort key is the order across partitions. */
interface Partition {
  index: string;
  name: string;
  value: string;
  sortKey: string;
  prefix: string;
}

interface Bound {
  value: string;
  strict: boolean;
}

const narrowed = (filter: ExecutionFilter) =>
  filter.statuses !== undefined || filter.initiatedByType !== undefined;

/** The cells a filter covers: its statuses (or all) by its initiatedByType (or all). */
function cellsOf(filter: ExecutionFilter) {
  const statuses = filter.statuses ?? Object.values(ExecutionStatus);
  const types = filter.initiatedByType ? [filter.initiatedByType] : Object.values(InitiatedByType);
  return statuses.flatMap((status) => types.map((type) => ({ status, type })));
}

/**
 * The partitions that hold exactly the filter's executions, in an index sorted as asked. Cell
 * indexes are sorted by queuedAt only; a cell has one status, so by status#queuedAt too.
 */
function partitionsOf(filter: ExecutionFilter, sortBy: ExecutionPageRequest['sortBy']): Partition[] {
  const ranged = filter.from !== undefined || filter.to !== undefined;
  const { scheduleId } = filter;
  if (!narrowed(filter) && (!ranged || sortBy === 'queuedAt')) {
    return [
      {
        index: scheduleId ? PER_SCHEDULE_INDEX[sortBy] : ALL_EXECUTIONS_INDEX[sortBy],
        name: scheduleId ? 'scheduleId' : 'allPk',
        value: scheduleId ?? ALL_PK,
        sortKey: ExecutionSortKey[sortBy],
        prefix: '',
      },
    ];
  }
  if (sortBy !== 'queuedAt' && sortBy !== 'status') {
    throw new ValidationError({
      sortBy: [
        `Sorting by ${sortBy} cannot be combined with status, initiatedByType, from or to: use queuedAt or status`,
      ],
    });
  }
  return cellsOf(filter).map(({ status, type }) => {
    const cell = cellOf({ status, initiatedByType: type });
    return {
      index: scheduleId ? ExecutionIndex.scheduleCellByQueuedAt : ExecutionIndex.cellByQueuedAt,
      name: scheduleId ? 'scheduleCellPk' : 'cellPk',
      value: scheduleId ? `${scheduleId}#${cell}` : cell,
      sortKey: ExecutionSortKey.queuedAt,
      prefix: sortBy === 'status' ? `${status}#` : '',
    };
  });
}

/** from/to as bounds on kQueued (`queuedAt#id`): `to` takes in every id of its instant. */
function rangeOf(filter: ExecutionFilter): { lower?: Bound; upper?: Bound } {
  return {
    ...(filter.from !== undefined ? { lower: { value: filter.from, strict: false } } : {}),
    ...(filter.to !== undefined ? { upper: { value: `${filter.to}#~`, strict: false } } : {}),
  };
}

/**
 * The key condition of a partition between two bounds. A key condition has one sort-key clause, so
 * two bounds are a BETWEEN (inclusive), and `drop` lists the strict ends to leave out of the result.
 */
function keyCondition(partition: Partition, lower?: Bound, upper?: Bound) {
  const names = { '#pk': partition.name, '#sk': partition.sortKey };
  const values: Record<string, string> = { ':pk': partition.value };
  let clause = '';
  const drop: string[] = [];
  if (lower && upper) {
    clause = ' AND #sk BETWEEN :lo AND :hi';
    values[':lo'] = lower.value;
    values[':hi'] = upper.value;
    for (const bound of [lower, upper]) if (bound.strict) drop.push(bound.value);
  } else if (lower) {
    clause = ` AND #sk ${lower.strict ? '>' : '>='} :lo`;
    values[':lo'] = lower.value;
  } else if (upper) {
    clause = ` AND #sk ${upper.strict ? '<' : '<='} :hi`;
    values[':hi'] = upper.value;
  }
  return {
    IndexName: partition.index,
    KeyConditionExpression: `#pk = :pk${clause}`,
    ExpressionAttributeNames: clause ? names : { '#pk': partition.name },
    ExpressionAttributeValues: values,
    drop,
  };
}

/**
 * The cursor's position. Tokens are signed (core/paging.ts), so a cursor is one this store issued:
 * only one from an older version of the store, with another shape, is refused here.
 */
function checkCursor(cursor: Record<string, unknown>): string {
  const value = cursor[MERGE_KEY];
  if (Object.keys(cursor).length !== 1 || typeof value !== 'string' || value === '') {
    throw refusedPageToken();
  }
  return value;
}
