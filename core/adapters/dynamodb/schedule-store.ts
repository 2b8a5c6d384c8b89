import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ALL_DUE_PARTITIONS, duePartitionOf } from '../../due-partitions.js';
import { ConflictError, ValidationError } from '../../errors.js';
import { SIDE_BY_SIDE_POLICIES } from '../../overlap.js';
import type { ScheduleRecord, ScheduleRunUpdate, ScheduleStore } from '../../ports.js';
import { StaleVersionError } from '../../ports.js';
import { cancellationCodes, queryAll, type TransactItems, transactWrite } from './client.js';
import { ScheduleIndex } from './tables.js';

const LIST_PK = 'SCHEDULE';

/** The due-index keys: present only while the schedule has a next fire time. */
function dueAttributes(id: string, nextRunTime: string | null): Record<string, string> {
  return nextRunTime ? { duePartition: String(duePartitionOf(id)), dueAt: nextRunTime } : {};
}

/**
 * The most a schedule item may weigh, in UTF-8 bytes of its JSON: DynamoDB refuses an item over
 * 400 KB (409,600 bytes) with a ValidationException, a 500 to the client. JSON outweighs DynamoDB's
 * own measure (quotes, colons, `null` for a 1-byte NULL), and the 16 KB margin covers what runs add
 * later (lastExecutionId, lastRunTime, due keys: a few hundred bytes). A run's step rows copy the
 * steps (each its definition plus a few fields), well under the transaction's 4 MB with 90 of them.
 */
export const MAX_SCHEDULE_BYTES = 384 * 1024;

/** The item the store writes, refused before the write when it would be too large to store. */
function scheduleItem(schedule: ScheduleRecord) {
  const item = { ...schedule, listPk: LIST_PK, ...dueAttributes(schedule.id, schedule.nextRunTime) };
  const bytes = Buffer.byteLength(JSON.stringify(item));
  if (bytes > MAX_SCHEDULE_BYTES) {
    throw new ValidationError({
      // The steps are what can grow: the other fields together stay under 6 KB.
      steps: [
        `The schedule would be stored as ${bytes} bytes (UTF-8), over the limit of ${MAX_SCHEDULE_BYTES}: use fewer or shorter steps`,
      ],
    });
  }
  return item;
}

/**
 * The schedule's side of a run: it names the new execution and records the run time. An exclusive
 * run's goes in the run's transaction, on condition of the version it was decided on, which it bumps
 * (so racing runs and fires of one schedule serialise, and an edit or delete meanwhile sends it back
 * to read the schedule again); a cron fire's also moves `nextRunTime` and the due index on. A run
 * recorded side by side sends it alone, after its own items, on condition only that the schedule
 * still exists and its policy still lets runs be recorded side by side.
 */
export function scheduleRunUpdate(
  tableName: string,
  scheduleId: string,
  executionId: string,
  run: ScheduleRunUpdate,
) {
  const sets = ['lastExecutionId = :id', 'lastRunTime = :ran'];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':id': executionId, ':ran': run.lastRunTime };
  let condition: string;
  if (run.exclusive) {
    condition = '#version = :version';
    names['#version'] = 'version';
    sets.push('#version = :next');
    Object.assign(values, { ':version': run.version, ':next': run.version + 1 });
  } else {
    const policies = SIDE_BY_SIDE_POLICIES.map((_, i) => `:policy${i}`);
    condition = `listPk = :list AND overlapPolicy IN (${policies.join(', ')})`;
    values[':list'] = LIST_PK;
    SIDE_BY_SIDE_POLICIES.forEach((policy, i) => {
      values[`:policy${i}`] = policy;
    });
  }
  let remove = '';
  if (run.fire) {
    sets.push('nextRunTime = :nextRun', 'missedCount = :missed');
    values[':nextRun'] = run.fire.nextRunTime;
    values[':missed'] = run.fire.missedCount;
    const due = dueAttributes(scheduleId, run.fire.nextRunTime);
    if (due.dueAt) {
      sets.push('duePartition = :duePartition', 'dueAt = :dueAt');
      Object.assign(values, { ':duePartition': due.duePartition, ':dueAt': due.dueAt });
    } else {
      remove = ' REMOVE duePartition, dueAt';
    }
  }
  return {
    Update: {
      TableName: tableName,
      Key: { id: scheduleId },
      UpdateExpression: `SET ${sets.join(', ')}${remove}`,
      ConditionExpression: condition,
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: values,
    },
  };
}

/**
 * The condition of an edit or delete: nothing wrote the schedule since `previous` was read. A run
 * that is not exclusive leaves the version alone but names its execution, so `lastExecutionId`
 * shows it: an edit cannot overwrite it, nor a delete miss the execution it just made active.
 */
function unchangedSince(previous: ScheduleRecord) {
  return previous.lastExecutionId
    ? {
        ConditionExpression: '#version = :version AND lastExecutionId = :last',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': previous.version, ':last': previous.lastExecutionId },
      }
    : {
        ConditionExpression:
          '#version = :version AND (attribute_not_exists(lastExecutionId) OR attribute_type(lastExecutionId, :null))',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': previous.version, ':null': 'NULL' },
      };
}

/** Names are unique regardless of case and surrounding spaces: "Daily Sync" and "daily sync " clash. */
const nameKey = (name: string) => `name#${name.trim().toLowerCase()}`;

/**
 * Schedules, one item each with their steps inline (a schedule is read and written whole). Name
 * uniqueness is a reservation item `name#<lowercased name>` in the same table, written in the same
 * transaction as the schedule.
 */
export class DynamoScheduleStore implements ScheduleStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item && Item.listPk === LIST_PK ? toRecord(Item) : undefined;
  }

  async create(schedule: ScheduleRecord): Promise<void> {
    await this.write(schedule.name, [
      this.reserveName(schedule),
      {
        Put: {
          TableName: this.tableName,
          Item: scheduleItem(schedule),
          ConditionExpression: 'attribute_not_exists(id)',
        },
      },
    ]);
  }

  async replace(schedule: ScheduleRecord, previous: ScheduleRecord): Promise<void> {
    const renamed = nameKey(schedule.name) !== nameKey(previous.name);
    await this.write(schedule.name, [
      {
        Put: {
          TableName: this.tableName,
          Item: scheduleItem(schedule),
          ...unchangedSince(previous),
        },
      },
      ...(renamed ? [this.reserveName(schedule), this.releaseName(previous)] : []),
    ]);
  }

  async delete(previous: ScheduleRecord): Promise<void> {
    await this.write(previous.name, [
      {
        Delete: {
          TableName: this.tableName,
          Key: { id: previous.id },
          ...unchangedSince(previous),
        },
      },
      this.releaseName(previous),
    ]);
  }

  async listAll(): Promise<ScheduleRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: ScheduleIndex.allByCreated,
      KeyConditionExpression: 'listPk = :pk',
      ExpressionAttributeValues: { ':pk': LIST_PK },
    });
    return items.map(toRecord);
  }

  async listDue(now: string, partitions: readonly number[] = ALL_DUE_PARTITIONS): Promise<string[]> {
    const keys = await Promise.all(
      partitions.map((partition) =>
        queryAll(this.client, {
          TableName: this.tableName,
          IndexName: ScheduleIndex.due,
          KeyConditionExpression: 'duePartition = :partition AND dueAt <= :now',
          ExpressionAttributeValues: { ':partition': String(partition), ':now': now },
        }),
      ),
    );
    return keys
      .flat()
      .sort((a, b) => String(a.dueAt).localeCompare(String(b.dueAt)))
      .map((key) => key.id as string);
  }

  private reserveName(schedule: ScheduleRecord) {
    return {
      Put: {
        TableName: this.tableName,
        Item: { id: nameKey(schedule.name), scheduleId: schedule.id },
        ConditionExpression: 'attribute_not_exists(id)',
      },
    };
  }

  private releaseName(schedule: ScheduleRecord) {
    return { Delete: { TableName: this.tableName, Key: { id: nameKey(schedule.name) } } };
  }

  /** Runs the transaction and turns condition failures into the domain's errors. */
  private async write(name: string, items: TransactItems): Promise<void> {
    try {
      await transactWrite(this.client, items);
    } catch (error) {
      const codes = cancellationCodes(error);
      if (!codes) throw error;
      const failed = codes.flatMap((code, i) => (code === 'ConditionalCheckFailed' ? [items[i]] : []));
      if (failed.some((item) => item?.Put?.Item?.id === nameKey(name))) {
        throw new ConflictError(`A schedule named '${name}' already exists.`, { name }, { cause: error });
      }
      if (failed.length > 0)
        throw new StaleVersionError('The schedule changed since it was read.', { cause: error });
      throw error;
    }
  }
}

function toRecord(item: Record<string, unknown>): ScheduleRecord {
  const { listPk: _listPk, duePartition: _duePartition, dueAt: _dueAt, ...record } = item;
  // Schedules stored before the counts existed have none: they have skipped and missed nothing.
  return { skippedCount: 0, missedCount: 0, ...record } as unknown as ScheduleRecord;
}
