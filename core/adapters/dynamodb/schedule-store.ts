import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ALL_DUE_PARTITIONS } from '../../due-partitions.js';
import { ConflictError, ValidationError } from '../../errors.js';
import type { ScheduleRecord, ScheduleStore } from '../../ports.js';
import { StaleVersionError } from '../../ports.js';
import { batchGet, failedItems, getConsistent, type NamedItem, queryAll, transactNamed } from './client.js';
import { dueAttributes, LIST_PK } from './schedule-items.js';
import { ScheduleIndex } from './tables.js';

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

/** The items of a schedule's transactions, by what they are. */
type ScheduleItemName = 'schedule' | 'reservation' | 'release';

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
    const item = await getConsistent(this.client, this.tableName, { id });
    return item && item.listPk === LIST_PK ? toRecord(item) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, ScheduleRecord>> {
    const items = await batchGet(
      this.client,
      this.tableName,
      ids.map((id) => ({ id })),
      true,
    );
    const records = items.filter((item) => item.listPk === LIST_PK).map(toRecord);
    return new Map(records.map((record) => [record.id, record]));
  }

  async create(schedule: ScheduleRecord): Promise<void> {
    await this.write(schedule.name, [
      this.reserveName(schedule),
      {
        name: 'schedule',
        item: {
          Put: {
            TableName: this.tableName,
            Item: scheduleItem(schedule),
            ConditionExpression: 'attribute_not_exists(id)',
          },
        },
      },
    ]);
  }

  async replace(schedule: ScheduleRecord, previous: ScheduleRecord): Promise<void> {
    const renamed = nameKey(schedule.name) !== nameKey(previous.name);
    await this.write(schedule.name, [
      {
        name: 'schedule',
        item: {
          Put: {
            TableName: this.tableName,
            Item: scheduleItem(schedule),
            ...unchangedSince(previous),
          },
        },
      },
      ...(renamed ? [this.reserveName(schedule), this.releaseName(previous)] : []),
    ]);
  }

  async delete(previous: ScheduleRecord): Promise<void> {
    await this.write(previous.name, [
      {
        name: 'schedule',
        item: {
          Delete: {
            TableName: this.tableName,
            Key: { id: previous.id },
            ...unchangedSince(previous),
          },
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

  /** The reservation of the schedule's name (it is the name being written: create, rename). */
  private reserveName(schedule: ScheduleRecord): NamedItem<ScheduleItemName> {
    return {
      name: 'reservation',
      item: {
        Put: {
          TableName: this.tableName,
          Item: { id: nameKey(schedule.name), scheduleId: schedule.id },
          ConditionExpression: 'attribute_not_exists(id)',
        },
      },
    };
  }

  private releaseName(schedule: ScheduleRecord): NamedItem<ScheduleItemName> {
    return {
      name: 'release',
      item: { Delete: { TableName: this.tableName, Key: { id: nameKey(schedule.name) } } },
    };
  }

  /** Runs the transaction and turns condition failures into the domain's errors. */
  private async write(name: string, named: readonly NamedItem<ScheduleItemName>[]): Promise<void> {
    try {
      await transactNamed(this.client, named);
    } catch (error) {
      const failed = failedItems(error, named);
      if (!failed) throw error;
      if (failed.includes('reservation')) {
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
