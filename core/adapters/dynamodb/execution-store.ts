import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BadRequestError } from '../../errors.js';
import {
  ACTIVE_EXECUTION_STATUSES,
  ExecutionStatus,
  isActiveExecutionStatus,
  isTerminalStepStatus,
  StepStatus,
} from '../../model.js';
import { olderFirst } from '../../overlap.js';
import type {
  ExecutionPage,
  ExecutionPageRequest,
  ExecutionStepRecord,
  ExecutionStore,
  ScheduleRunUpdate,
} from '../../ports.js';
import { StaleVersionError } from '../../ports.js';
import type { Execution, ExecutionStep } from '../../schemas/execution.js';
import { batchDelete, batchGet, cancellationCodes, queryAll, transactWrite } from './client.js';
import { scheduleRunUpdate } from './schedule-store.js';
import { EXPIRES_AT, ExecutionIndex, ExecutionSortKey, type TableNames } from './tables.js';

type Item = Record<string, unknown>;

const ALL_PK = 'EXECUTION';
const ACTIVE_PK = 'ACTIVE';
/** Sorts after any ISO date: a time not reached yet orders last ascending, first descending (as SQL NULLs). */
const NOT_YET = '~';

/**
 * The global execution count is spread over shards so that concurrent runs of different schedules do
 * not contend for one counter item inside their transactions; reading it is one BatchGetItem.
 */
export const COUNTER_SHARDS = 8;
export const GLOBAL_COUNTER_IDS = Array.from({ length: COUNTER_SHARDS }, (_, shard) => `executions#${shard}`);
export const scheduleCounterId = (scheduleId: string) => `executions#schedule#${scheduleId}`;

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

/** Keys of the sort indexes, recomputed on every write so they always agree with the fields. */
export function indexAttributes(e: Execution): Item {
  const tail = `${e.queuedAt}#${e.id}`;
  return {
    allPk: ALL_PK,
    kQueued: tail,
    kStarted: `${e.startedAt ?? NOT_YET}#${tail}`,
    kCompleted: `${e.completedAt ?? NOT_YET}#${tail}`,
    kStatus: `${e.status}#${tail}`,
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
] as const satisfies readonly (keyof Execution)[];

export function toExecution(item: Item): Execution {
  const execution: Record<string, unknown> = {};
  for (const field of EXECUTION_FIELDS) execution[field] = item[field] ?? null;
  return execution as unknown as Execution;
}

export class DynamoExecutionStore implements ExecutionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: Pick<TableNames, 'executions' | 'executionSteps' | 'counters' | 'schedules'>,
    /** How long an execution is kept once it has ended; TTL then removes it (and the change feed its steps). */
    private readonly retentionSeconds: number = DEFAULT_RETENTION_SECONDS,
  ) {}

  async get(id: string): Promise<Execution | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tables.executions, Key: { id }, ConsistentRead: true }),
    );
    return Item ? toExecution(Item) : undefined;
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

  async countFor(scheduleId?: string): Promise<number> {
    const ids = scheduleId ? [scheduleCounterId(scheduleId)] : GLOBAL_COUNTER_IDS;
    // Eventually consistent: a count a moment behind is fine for paging, and costs half.
    const items = await batchGet(
      this.client,
      this.tables.counters,
      ids.map((id) => ({ id })),
    );
    return items.reduce((sum, item) => sum + Number(item.count ?? 0), 0);
  }

  /**
   * One page of an index in the requested order. Only keys are read up to the page (KEYS_ONLY
   * indexes, ~100 bytes a key), then the page's items come from one BatchGetItem: page 1 costs the
   * same however many executions exist, and an offset costs its keys, bounded by MAX_PAGE_OFFSET.
   */
  async page(request: ExecutionPageRequest): Promise<ExecutionPage> {
    const partition = request.scheduleId
      ? { name: 'scheduleId', value: request.scheduleId }
      : { name: 'allPk', value: ALL_PK };
    const sortKey = ExecutionSortKey[request.sortBy];
    // The count and the keys are independent reads: one round trip instead of two.
    const [totalCount, keys] = await Promise.all([
      this.countFor(request.scheduleId),
      this.readKeys(request, partition, sortKey),
    ]);
    const pageKeys = keys.slice(request.offset, request.offset + request.pageSize);
    const found = await this.getMany(pageKeys.map((key) => key.id as string));
    const items = pageKeys.flatMap((key) => found.get(key.id as string) ?? []);
    const last = pageKeys.at(-1);
    const full = pageKeys.length === request.pageSize;
    return {
      items,
      totalCount,
      cursor:
        full && last
          ? { id: last.id, [partition.name]: partition.value, [sortKey]: last[sortKey] }
          : undefined,
    };
  }

  /** Index keys in order, from the cursor (or the start) up to the end of the requested page. */
  private async readKeys(
    request: ExecutionPageRequest,
    partition: { name: string; value: string },
    sortKey: string,
  ): Promise<Item[]> {
    const wanted = request.offset + request.pageSize;
    const keys: Item[] = [];
    let start = request.cursor ? checkCursor(request.cursor, partition, sortKey) : undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tables.executions,
          IndexName: request.scheduleId
            ? PER_SCHEDULE_INDEX[request.sortBy]
            : ALL_EXECUTIONS_INDEX[request.sortBy],
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': partition.name },
          ExpressionAttributeValues: { ':pk': partition.value },
          ScanIndexForward: !request.descending,
          Limit: wanted - keys.length,
          ExclusiveStartKey: start,
        }),
      );
      keys.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start && keys.length < wanted);
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
    schedule: ScheduleRunUpdate,
  ): Promise<void> {
    const shard = GLOBAL_COUNTER_IDS[Math.floor(Math.random() * COUNTER_SHARDS)] as string;
    const increment = (id: string) => ({
      Update: {
        TableName: this.tables.counters,
        Key: { id },
        UpdateExpression: 'ADD #count :one',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':one': 1 },
      },
    });
    try {
      await transactWrite(this.client, [
        // An exclusive run bumps the version, so two racing runs of a policy that may refuse
        // cannot both pass it on the same view of the schedule. Other runs of one schedule still
        // write its item and counter together, which DynamoDB may answer with TransactionConflict:
        // their writes commute (the last `lastExecutionId` wins, counts add up) and none conditions
        // on another run, so the retry in `transactWrite` is the whole answer to that transient cause.
        scheduleRunUpdate(this.tables.schedules, execution.scheduleId, execution.id, schedule),
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
        increment(shard),
        increment(scheduleCounterId(execution.scheduleId)),
      ]);
    } catch (error) {
      if (cancellationCodes(error)?.[0] === 'ConditionalCheckFailed') {
        throw new StaleVersionError('The schedule changed since it was read.', { cause: error });
      }
      throw error;
    }
  }

  cancel(
    execution: Execution,
    from: ExecutionStatus,
    change: { completedAt: string; cancelledById: string | null; cancelledByName: string | null },
  ): Promise<Execution | undefined> {
    return this.transition(execution, from, { ...change, status: ExecutionStatus.Cancelled });
  }

  async transition(
    execution: Execution,
    from: ExecutionStatus,
    patch: Partial<Execution>,
  ): Promise<Execution | undefined> {
    const next: Execution = { ...execution, ...patch };
    const ending = !isActiveExecutionStatus(next.status);
    const unfinished = ending
      ? (await this.getSteps(execution.id)).filter((step) => !isTerminalStepStatus(step.status))
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
            ConditionExpression: update.condition,
            ExpressionAttributeNames: update.names,
            ExpressionAttributeValues: update.values,
          },
        },
        ...unfinished.map((step) =>
          this.stepUpdate(execution.id, step.ordinal, [step.status], {
            status: StepStatus.Cancelled,
            completedAt: next.completedAt ?? new Date().toISOString(),
          }),
        ),
      ]);
      return next;
    } catch (error) {
      if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return undefined;
      throw error;
    }
  }

  async forget(execution: Execution): Promise<void> {
    const keys = await queryAll(this.client, {
      TableName: this.tables.executionSteps,
      KeyConditionExpression: 'executionId = :id',
      ExpressionAttributeValues: { ':id': execution.id },
      ProjectionExpression: 'executionId, ordinal',
    });
    await batchDelete(this.client, this.tables.executionSteps, keys);
    // Any global shard will do: the count is their sum.
    const shard = GLOBAL_COUNTER_IDS[Math.floor(Math.random() * COUNTER_SHARDS)] as string;
    await Promise.all(
      [shard, scheduleCounterId(execution.scheduleId)].map((id) =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tables.counters,
            Key: { id },
            UpdateExpression: 'ADD #count :minusOne',
            ExpressionAttributeNames: { '#count': 'count' },
            ExpressionAttributeValues: { ':minusOne': -1 },
          }),
        ),
      ),
    );
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
    try {
      await this.client.send(new UpdateCommand(this.stepUpdate(executionId, ordinal, from, patch).Update));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** A conditional step update, usable alone or inside a transaction. */
  stepUpdate(
    executionId: string,
    ordinal: number,
    from: readonly StepStatus[],
    patch: Partial<ExecutionStep>,
  ) {
    const update = setExpression(patch, { status: from });
    return {
      Update: {
        TableName: this.tables.executionSteps,
        Key: { executionId, ordinal },
        UpdateExpression: update.expression,
        ConditionExpression: update.condition,
        ExpressionAttributeNames: update.names,
        ExpressionAttributeValues: update.values,
      },
    };
  }
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

/**
 * A cursor comes back from the client: accept exactly the key shape this query would have issued,
 * with strings DynamoDB takes as key values (it refuses an empty one, or a sort key over 1024 bytes,
 * with a ValidationException: a 500 here, where the client deserves a 400).
 */
const isKeyValue = (value: unknown) =>
  typeof value === 'string' && value !== '' && Buffer.byteLength(value) <= 1024;

function checkCursor(
  cursor: Record<string, unknown>,
  partition: { name: string; value: string },
  sortKey: string,
) {
  const names = Object.keys(cursor).sort();
  const expected = ['id', partition.name, sortKey].sort();
  const valid =
    names.length === expected.length &&
    names.every((name, i) => name === expected[i] && isKeyValue(cursor[name])) &&
    cursor[partition.name] === partition.value;
  if (!valid) throw new BadRequestError('nextToken is not a token this API issued.');
  return cursor;
}
