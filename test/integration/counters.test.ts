import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { COUNTER_SHARDS } from '../../core/adapters/dynamodb/counters.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { createServices, type Services } from '../../core/services/index.js';
import { freshTables, recordRequests, transactionsIn } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { operator, scheduleInput, TestClock } from './fixtures.js';

describe('execution counters', () => {
  let db: Awaited<ReturnType<typeof freshTables>>;
  let services: Services;
  let store: DynamoExecutionStore;

  beforeEach(async () => {
    db = await freshTables();
    services = createServices(db.client, db.tables, {
      clock: new TestClock('2026-04-05T06:00:00.000Z'),
      workflow: new RecordingWorkflow(),
    });
    store = new DynamoExecutionStore(db.client, db.tables);
  });

  it('spreads the concurrent runs of one schedule over the shards, and counts each once', async () => {
    // Arrange
    const schedule = await services.schedules.create(scheduleInput({ overlapPolicy: 'AllowAll' }));
    const sent = recordRequests(db.client);

    // Act
    const runs = await Promise.all(
      Array.from({ length: 40 }, () => services.schedules.run(schedule.id, operator)),
    );

    // Assert
    expect(new Set(runs.map((r) => r.executionId)).size).toBe(40);
    const scheduleCounters = transactionsIn(sent).flatMap((actions) =>
      actions.flatMap((a) =>
        a.TableName === db.tables.counters && /^executions#schedule#[^#]+(#\d)?$/.test(String(a.Key?.id))
          ? [String(a.Key?.id)]
          : [],
      ),
    );
    expect(scheduleCounters).toHaveLength(40);
    // 40 runs over 8 shards: all on one or two would happen about once in 10^30 runs.
    expect(new Set(scheduleCounters).size).toBeGreaterThan(2);
    expect(await store.count({ scheduleId: schedule.id })).toBe(40);
    expect(await store.count({ scheduleId: schedule.id, statuses: ['Queued'] })).toBe(40);
    expect(await store.count({ statuses: ['Queued'], initiatedByType: 'ApiKey' })).toBe(40);
    expect(await store.count({})).toBe(40);
  });

  it('keeps counting what a schedule counted before its counters were sharded', async () => {
    // Arrange: the single counter items the previous version kept for the schedule, and one new run.
    const schedule = await services.schedules.create(scheduleInput({ overlapPolicy: 'AllowAll' }));
    for (const id of [
      `executions#schedule#${schedule.id}`,
      `executions#schedule#${schedule.id}#cell#Completed#ApiKey`,
    ]) {
      await db.client.send(new PutCommand({ TableName: db.tables.counters, Item: { id, count: 5 } }));
    }

    // Act
    await services.schedules.run(schedule.id, operator);

    // Assert
    expect(await store.count({ scheduleId: schedule.id })).toBe(6);
    expect(await store.count({ scheduleId: schedule.id, statuses: ['Completed'] })).toBe(5);
    expect(await store.count({ scheduleId: schedule.id, statuses: ['Completed', 'Queued'] })).toBe(6);
  });

  it('reads every shard of a count in one request', async () => {
    // Arrange
    const schedule = await services.schedules.create(scheduleInput());
    const sent = recordRequests(db.client);

    // Act
    await store.count({ scheduleId: schedule.id });

    // Assert
    const reads = sent.filter((r) => r.command === 'BatchGetItemCommand');
    expect(reads).toHaveLength(1);
    const requested = (reads[0]?.input.RequestItems ?? {}) as Record<string, { Keys: unknown[] }>;
    const keys = requested[db.tables.counters]?.Keys;
    expect(keys).toHaveLength(COUNTER_SHARDS);
  });
});
