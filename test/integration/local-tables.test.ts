import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import { backfillAddedIndexes, ensureTables, localTableNames } from '../../local/tables.js';
import { scheduleInput } from './fixtures.js';

describe('ensureTables on a persisted local database', () => {
  it('adds an index a newer version defines and backfills the schedules written before it', async () => {
    // Arrange: the Schedules table as the version before the due index created it, holding an
    // enabled cron schedule written by that version (no due keys).
    const config = {
      endpoint: inject('dynamoEndpoint'),
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    };
    const tables = localTableNames(`old${Date.now().toString(36)}`);
    const admin = new DynamoDBClient(config);
    const client = createDocumentClient(config);
    await admin.send(
      new CreateTableCommand({
        TableName: tables.schedules,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: 'id', AttributeType: 'S' },
          { AttributeName: 'listPk', AttributeType: 'S' },
          { AttributeName: 'created', AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'all-created',
            KeySchema: [
              { AttributeName: 'listPk', KeyType: 'HASH' },
              { AttributeName: 'created', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    const id = '5e0c6a1f-2b7d-4c1e-9a8f-0d3b6c2e7f41';
    const { steps: _steps, ...fields } = scheduleInput({
      triggerType: 'Cron',
      cronExpression: '0 6 * * *',
      isEnabled: true,
    });
    await client.send(
      new PutCommand({
        TableName: tables.schedules,
        Item: {
          ...fields,
          id,
          listPk: 'SCHEDULE',
          steps: [],
          stepCount: 0,
          nextRunTime: '2026-04-05T06:00:00.000Z',
          lastRunTime: null,
          created: '2026-04-01T00:00:00.000Z',
          lastUpdated: '2026-04-01T00:00:00.000Z',
          lastExecutionId: null,
          version: 3,
        },
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
    expect(await store.listDue('2026-04-05T06:00:00.000Z')).toEqual([id]);
    expect((await store.get(id))?.version).toBe(3);
    for (const table of Object.values(tables)) await admin.send(new DeleteTableCommand({ TableName: table }));
    admin.destroy();
    // Index creation is background work in DynamoDB Local: slow on a busy machine.
  }, 240_000);
});
