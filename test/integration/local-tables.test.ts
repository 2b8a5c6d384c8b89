import { DeleteTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import { createServices } from '../../core/services/index.js';
import { backfillAddedIndexes, ensureTables, waitForIndexes } from '../../local/tables.js';
import { freshTables } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { scheduleInput, TestClock } from './fixtures.js';

describe('ensureTables on a persisted local database', () => {
  it('adds an index a newer version defines and backfills the schedules written before it', async () => {
    // Arrange: an enabled cron schedule stored by a version without the due index.
    const { tables, client, config } = await freshTables();
    const clock = new TestClock('2026-04-05T05:00:00Z');
    const services = createServices(client, tables, { clock, workflow: new RecordingWorkflow() });
    const schedule = await services.schedules.create(
      scheduleInput({ triggerType: 'Cron', cronExpression: '0 6 * * *', isEnabled: true }),
    );
    const admin = new DynamoDBClient(config);
    await admin.send(
      new UpdateTableCommand({
        TableName: tables.schedules,
        GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'due' } }],
      }),
    );
    await waitForIndexes(admin, tables.schedules);
    await client.send(
      new UpdateCommand({
        TableName: tables.schedules,
        Key: { id: schedule.id },
        UpdateExpression: 'REMOVE duePartition, dueAt',
      }),
    );

    // Act
    const added = await ensureTables(admin, tables);
    await backfillAddedIndexes(client, tables, added);
    const again = await ensureTables(admin, tables);

    // Assert
    expect(added).toEqual([{ table: 'schedules', indexName: 'due' }]);
    expect(again).toEqual([]);
    const store = new DynamoScheduleStore(client, tables.schedules);
    expect(await store.listDue('2026-04-05T06:00:00.000Z')).toEqual([schedule.id]);
    expect((await store.get(schedule.id))?.version).toBe(1);
    for (const table of Object.values(tables)) await admin.send(new DeleteTableCommand({ TableName: table }));
    admin.destroy();
    // Index creation and deletion are background work in DynamoDB Local: slow on a busy machine.
  }, 120_000);
});
