import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimedResponse, IdempotencyClaim } from '../../idempotency.js';
import { ExecutionStatus, type StepStatus } from '../../model.js';
import { olderFirst } from '../../overlap.js';
import type {
  ExecutionFilter,
  ExecutionPage,
  ExecutionPageRequest,
  ExecutionStepRecord,
  ExecutionStore,
  ExecutionWithStep,
  ScheduleRunUpdate,
  StepKey,
} from '../../ports.js';
import { StaleVersionError } from '../../ports.js';
import type { Execution, ExecutionStep } from '../../schemas/execution.js';
import {
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
  batchGetTables,
  chunk,
  failedItems,
  getConsistent,
  type NamedItem,
  queryAll,
  transactNamed,
  withConflictRetry,
  writeNamed,
} from './client.js';
import {
  cellCounterIds,
  countedIds,
  counterIdsOf,
  counterUpdate,
  randomShard,
  totalCounterIds,
} from './counters.js';
import { countIntoCell } from './execution-cells.js';
import {
  ACTIVE_PK,
  ACTIVE_STATUS_FLOOR,
  indexAttributes,
  stepUpdate,
  toExecution,
  toStepRecord,
} from './execution-items.js';
import { countedCells, countRange, cursorAfter, MAX_RANGE_COUNT, readKeys } from './execution-paging.js';
import { conditionalUpdate, sendIfMatches, setExpression } from './expressions.js';
import { claimPut } from './idempotency-items.js';
import { DEFAULT_RETENTION_SECONDS, expiresAt, FORGOTTEN_RETENTION_SECONDS } from './retention.js';
import { scheduleRunUpdate } from './schedule-items.js';
import { EXPIRES_AT, ExecutionIndex, type TableNames } from './tables.js';
import { type BatchPart, TransactionBatcher } from './transaction-batcher.js';

/**
 * The execution store: its methods write and read the Executions, ExecutionSteps and Counters
 * tables. What an item holds is in execution-items.ts, how a list is read in execution-paging.ts,
 * the counting of pre-cell executions in execution-cells.ts.
 */

/** The state machine's callback token while it is parked on the execution; not part of `Execution`. */
const PARK_TOKEN = 'parkToken';

/** A step's key as one string, to find it among those a batch read brings. */
const stepKey = (executionId: string, ordinal: number) => `${executionId}|${ordinal}`;

/**
 * A transaction whose condition failed wrote on something changed since it was read (`named`'s
 * failures, whichever item it was).
 */
async function staleOnCondition(
  client: DynamoDBDocumentClient,
  named: readonly NamedItem[],
  what: string,
): Promise<void> {
  try {
    await transactNamed(client, named);
  } catch (error) {
    if (failedItems(error, named)?.length) {
      throw new StaleVersionError(`${what} since it was read.`, { cause: error });
    }
    throw error;
  }
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
  ) {
    this.fires = new TransactionBatcher(client, tables.counters, (part) =>
      staleOnCondition(client, this.withCounters(part, randomShard()), 'The schedule changed'),
    );
  }

  /** The cron fires being recorded at once share transactions (see transaction-batcher.ts). */
  private readonly fires: TransactionBatcher;

  async get(id: string): Promise<Execution | undefined> {
    const item = await getConsistent(this.client, this.tables.executions, { id });
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
    return items.map(toStepRecord);
  }

  async count(filter: ExecutionFilter): Promise<number> {
    if (filter.from !== undefined || filter.to !== undefined) {
      return countRange(this.client, this.tables.executions, filter, this.maxRangeCount);
    }
    const ids = countedIds(filter.scheduleId, countedCells(filter));
    // Eventually consistent: a count a moment behind is fine for paging, and costs half.
    const items = await batchGet(
      this.client,
      this.tables.counters,
      ids.map((id) => ({ id })),
    );
    return items.reduce((sum, item) => sum + Number(item.count ?? 0), 0);
  }

  /**
   * One page in the requested order. Only keys are read up to the page (KEYS_ONLY indexes, ~100
   * bytes a key), then the page's items come from one BatchGetItem: page 1 costs the same however
   * many executions exist, and an offset costs its keys, bounded by MAX_PAGE_OFFSET (per cell read).
   */
  async page(request: ExecutionPageRequest): Promise<ExecutionPage> {
    // The count and the keys are independent reads: one round trip instead of two.
    const [totalCount, keys] = await Promise.all([
      this.count(request),
      readKeys(this.client, this.tables.executions, request),
    ]);
    const pageKeys = keys.slice(request.offset, request.offset + request.pageSize);
    const found = await this.getMany(pageKeys.map((key) => key.id as string));
    const items = pageKeys.flatMap((key) => found.get(key.id as string) ?? []);
    const last = pageKeys.at(-1);
    const full = pageKeys.length === request.pageSize;
    return { items, totalCount, cursor: full && last ? cursorAfter(last) : undefined };
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

  async queuedIds(scheduleId: string): Promise<string[]> {
    const keys = await queryAll(this.client, {
      TableName: this.tables.executions,
      IndexName: ExecutionIndex.scheduleByStatus,
      KeyConditionExpression: 'scheduleId = :pk AND begins_with(kStatus, :queued)',
      ExpressionAttributeValues: { ':pk': scheduleId, ':queued': `${ExecutionStatus.Queued}#` },
    });
    return keys.map((key) => key.id as string);
  }

  async create(
    execution: Execution,
    steps: ExecutionStepRecord[],
    run: ScheduleRunUpdate | null,
    claim?: IdempotencyClaim<ClaimedResponse>,
  ): Promise<boolean> {
    const own: NamedItem[] = [
      {
        name: 'execution',
        item: {
          Put: {
            TableName: this.tables.executions,
            Item: { ...execution, ...indexAttributes(execution) },
            ConditionExpression: 'attribute_not_exists(id)',
          },
        },
      },
      ...steps.map((step) => ({
        name: 'step',
        item: {
          Put: { TableName: this.tables.executionSteps, Item: { ...step, executionId: execution.id } },
        },
      })),
      // Its only condition that can fail is the claim's (the execution's id is new): the key was used.
      // The claim is the IdempotencyKeys table's item, in this transaction so that the key is claimed
      // exactly when the execution it started exists (see idempotency-items.ts).
      ...(claim ? [{ name: 'claim', item: claimPut(this.tables.idempotencyKeys, claim) }] : []),
      // A retry: the original names it, the latest retry winning.
      ...(execution.retryOfExecutionId
        ? [
            {
              name: 'original',
              item: {
                Update: {
                  TableName: this.tables.executions,
                  Key: { id: execution.retryOfExecutionId },
                  UpdateExpression: 'SET retriedByExecutionId = :retry',
                  ConditionExpression: 'attribute_exists(id)',
                  ExpressionAttributeValues: { ':retry': execution.id },
                },
              },
            },
          ]
        : []),
    ];
    const counters = (shard: number) => counterIdsOf(execution, shard);
    if (!run) {
      await staleOnCondition(
        this.client,
        this.withCounters({ items: own, counters }, randomShard()),
        'The idempotency key or the original changed',
      );
      return true;
    }
    // The Schedules table's item, written by this store: the schedule names the run (schedule-items.ts).
    const runUpdate = scheduleRunUpdate(this.tables.schedules, execution.scheduleId, execution.id, run);
    if (run.exclusive) {
      const part = { items: [{ name: 'schedule', item: runUpdate }, ...own], counters };
      // A cron fire may share its transaction with the tick's other fires, each one's own conditions kept.
      if (run.fire) {
        await this.fires.write({ ...part, key: execution.scheduleId });
      } else {
        await staleOnCondition(
          this.client,
          this.withCounters(part, randomShard()),
          'The schedule or the key changed',
        );
      }
      return true;
    }
    // Side by side, the schedule item stays out of the transaction: in it, every concurrent run of
    // the schedule would conflict with every other (TransactionConflict), as its counters would if
    // they were not sharded. What the schedule's item guarded (that it exists and still admits runs
    // side by side) is checked when it names the run, just after.
    await staleOnCondition(
      this.client,
      this.withCounters({ items: own, counters }, randomShard()),
      'The idempotency key was claimed',
    );
    try {
      await withConflictRetry(() => this.client.send(new UpdateCommand(runUpdate.Update)));
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
    steps?: readonly ExecutionStepRecord[],
  ): Promise<Execution | undefined> {
    const next: Execution = { ...execution, ...patch };
    // The table says whether the move is allowed, and what it carries when it ends the execution.
    const ending = executionMove(from, next.status).ends;
    const unfinished = ending
      ? (steps ?? (await this.getSteps(execution.id))).filter((step) =>
          canMove(STEP_MOVES.cancel, step.status),
        )
      : [];
    const { activePk: _activePk, ...keys } = indexAttributes(next);
    const expiry = ending ? { [EXPIRES_AT]: expiresAt(next.completedAt, this.retentionSeconds) } : {};
    const update = setExpression({ ...patch, ...keys, ...expiry }, { status: from });
    const named: NamedItem<'execution' | 'step' | 'counter'>[] = [
      {
        name: 'execution',
        item: {
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
      },
      ...unfinished.map((step) => ({
        name: 'step' as const,
        item: this.stepUpdate(execution.id, step.ordinal, [step.status], {
          status: STEP_MOVES.cancel.to,
          completedAt: next.completedAt ?? new Date().toISOString(),
        }),
      })),
      // The execution leaves its status's cell for the new one's, in the same transaction.
      ...(next.status === from
        ? []
        : [
            ...cellCounterIds({ ...execution, status: from }, randomShard()).map((id) =>
              this.counterUpdate(id, -1),
            ),
            ...cellCounterIds(next, randomShard()).map((id) => this.counterUpdate(id, 1)),
          ].map((item) => ({ name: 'counter' as const, item }))),
    ];
    // A move of currentStepIndex alone is the execution's item only: one UpdateItem (see writeNamed).
    const failed = await writeNamed(this.client, named);
    if (failed.length === 0) return next;
    // An execution from before the cells, not backfilled yet: count it in, then move it.
    if (failed.includes('execution') && (await countIntoCell(this.client, this.tables, execution.id))) {
      return this.transition(execution, from, patch);
    }
    return undefined;
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
    const named: NamedItem<'marker' | 'counter'>[] = [
      {
        name: 'marker',
        item: {
          Put: {
            TableName: this.tables.counters,
            Item: {
              id: `forgotten#${execution.id}`,
              [EXPIRES_AT]: expiresAt(null, FORGOTTEN_RETENTION_SECONDS),
            },
            ConditionExpression: 'attribute_not_exists(id)',
          },
        },
      },
      // Any shard will do: the count is their sum.
      ...(inCell ? counterIdsOf(execution, shard) : totalCounterIds(execution, shard)).map((id) => ({
        name: 'counter' as const,
        item: this.counterUpdate(id, -1),
      })),
    ];
    try {
      await transactNamed(this.client, named);
    } catch (error) {
      // Marked: this removal has been forgotten already.
      if (!failedItems(error, named)?.includes('marker')) throw error;
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
    const item = await getConsistent(this.client, this.tables.executions, { id: executionId }, PARK_TOKEN);
    return item?.[PARK_TOKEN] as string | undefined;
  }

  async forgetParkToken(executionId: string, taskToken: string): Promise<void> {
    // Another token (a newer park) or none: nothing to forget.
    await sendIfMatches(this.client, {
      TableName: this.tables.executions,
      Key: { id: executionId },
      UpdateExpression: 'REMOVE #token',
      ConditionExpression: '#token = :token',
      ExpressionAttributeNames: { '#token': PARK_TOKEN },
      ExpressionAttributeValues: { ':token': taskToken },
    });
  }

  private counterUpdate(id: string, delta: number) {
    return counterUpdate(this.tables.counters, id, delta);
  }

  /** A new execution's transaction: its items and one added to each of its counters on `shard`. */
  private withCounters(part: Pick<BatchPart, 'items' | 'counters'>, shard: number): NamedItem<string>[] {
    return [
      ...part.items,
      ...part.counters(shard).map((id) => ({ name: 'counter', item: this.counterUpdate(id, 1) })),
    ];
  }

  async getStep(executionId: string, ordinal: number): Promise<ExecutionStepRecord | undefined> {
    const item = await getConsistent(this.client, this.tables.executionSteps, { executionId, ordinal });
    return item ? toStepRecord(item) : undefined;
  }

  async getWithStep(executionId: string, ordinal: number): Promise<ExecutionWithStep> {
    const [found] = await this.getWithSteps([{ executionId, ordinal }]);
    return found ?? { execution: undefined, step: undefined };
  }

  async getWithSteps(keys: readonly StepKey[]): Promise<ExecutionWithStep[]> {
    const { executions, executionSteps } = this.tables;
    const executionsById = new Map<string, Execution>();
    const stepsByKey = new Map<string, ExecutionStepRecord>();
    // 50 steps and at most as many executions: within the 100 keys of one BatchGetItem.
    for (const part of chunk(keys, 50)) {
      const found = await batchGetTables(
        this.client,
        {
          [executions]: [...new Set(part.map((key) => key.executionId))].map((id) => ({ id })),
          [executionSteps]: part.map(({ executionId, ordinal }) => ({ executionId, ordinal })),
        },
        true,
      );
      for (const item of found[executions] ?? []) executionsById.set(item.id as string, toExecution(item));
      for (const item of found[executionSteps] ?? []) {
        const step = toStepRecord(item);
        stepsByKey.set(stepKey(item.executionId as string, step.ordinal), step);
      }
    }
    return keys.map(({ executionId, ordinal }) => ({
      execution: executionsById.get(executionId),
      step: stepsByKey.get(stepKey(executionId, ordinal)),
    }));
  }

  async updateStep(
    executionId: string,
    ordinal: number,
    from: readonly StepStatus[],
    patch: Partial<ExecutionStep>,
  ): Promise<boolean> {
    return sendIfMatches(this.client, this.stepUpdate(executionId, ordinal, from, patch).Update);
  }

  /** A conditional step update, usable alone or inside a transaction (see execution-items.ts). */
  stepUpdate(
    executionId: string,
    ordinal: number,
    from: readonly StepStatus[],
    patch: Partial<ExecutionStep>,
  ) {
    return stepUpdate(this.tables.executionSteps, executionId, ordinal, from, patch);
  }
}
