import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { transactWrite } from '../../core/adapters/dynamodb/client.js';
import { counterUpdate, totalCounterIds } from '../../core/adapters/dynamodb/counters.js';
import { indexAttributes } from '../../core/adapters/dynamodb/execution-items.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { toFeedChanges } from '../../core/adapters/dynamodb/stream.js';
import type { TableNames } from '../../core/adapters/dynamodb/tables.js';
import type { ExecutionStatus } from '../../core/model.js';
import type { EventPublisher, ServiceEvent } from '../../core/ports.js';
import type { Execution } from '../../core/schemas/execution.js';
import { ScheduleStep } from '../../core/schemas/schedule.js';
import { ChangeFeed } from '../../core/services/change-feed.js';
import { snapshotSteps } from '../../core/services/schedules.js';
import { freshTables, recordRequests } from '../helpers/dynamodb.js';
import { executionRecord } from './fixtures.js';

/**
 * The change feed's clean-up after TTL removes an execution, on DynamoDB Local with the real store:
 * the stream delivers a batch at least once (retried, split, replayed from the dead-letter queue,
 * or handled twice at once), and each removal leaves the counters exactly once.
 */

const SCHEDULE = '5e0c6a1f-2b7d-4c1e-9a8f-0d3b6c2e7f41';

const execution = (i: number, status: ExecutionStatus): Execution =>
  executionRecord(i, {
    scheduleId: SCHEDULE,
    status,
    // Ended or not, each has its times: the feed reads them as stored.
    completedAt: status === 'Queued' ? null : '2026-04-05T07:00:00.000Z',
  });

/** EventBridge is AWS: a publisher that keeps what it is given, and fails when told to. */
class TestPublisher implements EventPublisher {
  published: ServiceEvent[] = [];
  failures = 0;

  async publish(events: readonly ServiceEvent[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('EventBridge is unavailable');
    }
    this.published.push(...events);
  }
}

let tables: TableNames;
let client: Awaited<ReturnType<typeof freshTables>>['client'];
let store: DynamoExecutionStore;
let publisher: TestPublisher;
let feed: ChangeFeed;

beforeEach(async () => {
  ({ tables, client } = await freshTables());
  store = new DynamoExecutionStore(client, tables);
  publisher = new TestPublisher();
  feed = new ChangeFeed({ events: publisher, executions: store });
});

/** An execution as the service creates it: counted in the totals and in its cell, with one step. */
async function created(e: Execution) {
  const steps = snapshotSteps([
    ScheduleStep.parse({
      id: '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
      stepIndex: 0,
      name: 'Import',
      stepType: 'Executable',
      executablePath: '/bin/true',
    }),
  ]);
  // No schedule item: the run is not named on one, which nothing here reads.
  await store.create(e, steps, { version: 0, exclusive: false, lastRunTime: e.queuedAt });
}

/** An execution as the version before the cells wrote it: no cell keys, counted in the totals only. */
async function olderVersion(e: Execution) {
  const { cellPk: _cell, scheduleCellPk: _scheduleCell, ...olderKeys } = indexAttributes(e);
  await client.send(new PutCommand({ TableName: tables.executions, Item: { ...e, ...olderKeys } }));
  await transactWrite(
    client,
    totalCounterIds(e, 0).map((id) => counterUpdate(tables.counters, id, 1)),
  );
}

const streamArn = (table: string) =>
  `arn:aws:dynamodb:eu-west-2:000000000000:table/${table}/stream/2026-04-05T00:00:00.000`;

/** TTL's removal of the execution, and the stream record it makes (the item as it was). */
async function removeByTtl(id: string): Promise<DynamoDBRecord> {
  const { Item } = await client.send(new GetCommand({ TableName: tables.executions, Key: { id } }));
  await client.send(new DeleteCommand({ TableName: tables.executions, Key: { id } }));
  return {
    eventName: 'REMOVE',
    eventSourceARN: streamArn(tables.executions),
    dynamodb: { OldImage: marshall(Item, { removeUndefinedValues: true }) as never },
  };
}

/** A status change's stream record: it yields an event, published after the batch's removals. */
const statusChange = (before: Execution, after: Execution): DynamoDBRecord => ({
  eventName: 'MODIFY',
  eventSourceARN: streamArn(tables.executions),
  dynamodb: {
    OldImage: marshall(before, { removeUndefinedValues: true }) as never,
    NewImage: marshall(after, { removeUndefinedValues: true }) as never,
  },
});

const apply = (records: DynamoDBRecord[]) => feed.apply(toFeedChanges(records, tables));

const counts = async () => ({
  total: await store.count({}),
  schedule: await store.count({ scheduleId: SCHEDULE }),
  failed: await store.count({ statuses: ['Failed'] }),
  failedInSchedule: await store.count({ scheduleId: SCHEDULE, statuses: ['Failed'] }),
});

describe('change feed: forgetting a removed execution', () => {
  it('decrements once when the same removal batch is applied twice, and deletes its steps', async () => {
    // Arrange
    const gone = execution(1, 'Failed');
    await created(gone);
    await created(execution(2, 'Failed'));
    const batch = [await removeByTtl(gone.id)];

    // Act
    await apply(batch);
    await apply(batch);

    // Assert
    expect(await counts()).toEqual({ total: 1, schedule: 1, failed: 1, failedInSchedule: 1 });
    expect(await store.getSteps(gone.id)).toEqual([]);
  });

  it.each([
    ['retried whole', (batch: DynamoDBRecord[]) => [batch]],
    ['split in halves', (batch: DynamoDBRecord[]) => [batch.slice(0, 1), batch.slice(1)]],
  ])('leaves counts exact when a batch fails after its removals and is %s', async (_, retriesOf) => {
    // Arrange: a removal, then a status change whose event fails to publish.
    const gone = execution(1, 'Failed');
    const running = execution(2, 'InProgress');
    await created(gone);
    await created(running);
    const batch = [await removeByTtl(gone.id), statusChange(running, { ...running, status: 'Failed' })];
    publisher.failures = 1;

    // Act
    await expect(apply(batch)).rejects.toThrow(/unavailable/);
    for (const retry of retriesOf(batch)) await apply(retry);

    // Assert: the removal left once; the event went out when the batch went through.
    expect(await counts()).toEqual({ total: 1, schedule: 1, failed: 0, failedInSchedule: 0 });
    expect(await store.count({ statuses: ['InProgress'] })).toBe(1);
    expect(publisher.published.map((event) => event.detail.status)).toEqual(['Failed']);
  });

  it('takes an execution never counted into its cell out of the totals only', async () => {
    // Arrange: one execution from before the cells (no cellPk), one counted in the Failed cell.
    const old = execution(1, 'Failed');
    await olderVersion(old);
    await created(execution(2, 'Failed'));
    expect(await counts()).toEqual({ total: 2, schedule: 2, failed: 1, failedInSchedule: 1 });

    // Act
    await apply([await removeByTtl(old.id)]);

    // Assert: the Failed cell still counts the execution it holds.
    expect(await counts()).toEqual({ total: 1, schedule: 1, failed: 1, failedInSchedule: 1 });
  });

  it('decrements once when two invocations apply the same removal at the same time', async () => {
    // Arrange
    const gone = execution(1, 'Completed');
    await created(gone);
    await created(execution(2, 'Failed'));
    const batch = [await removeByTtl(gone.id)];
    // Both hold their transaction until the other's is ready too, so the two are sent together.
    let ready = 0;
    let release = () => {};
    const bothReady = new Promise<void>((resolve) => {
      release = resolve;
    });
    recordRequests(client, async ({ command }) => {
      if (command !== 'TransactWriteItemsCommand' || ++ready > 2) return;
      if (ready === 2) release();
      await bothReady;
    });

    // Act
    await Promise.all([apply(batch), apply(batch)]);

    // Assert
    expect(await counts()).toEqual({ total: 1, schedule: 1, failed: 1, failedInSchedule: 1 });
    expect(await store.count({ statuses: ['Completed'] })).toBe(0);
    expect(ready).toBeGreaterThanOrEqual(2);
  });
});
