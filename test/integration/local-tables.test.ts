import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import { type DynamoConnection, type DynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { backfillAddedIndexes, ensureTables, localTableNames } from '../../local/tables.js';
import { scheduleInput } from './fixtures.js';

/**
 * `npm start` after an upgrade: a DynamoDB Local of its own with a data directory, as the user has.
 * (Not the suite's shared one: its background index builder crawls under hundreds of test tables.)
 */
const dataDir = mkdtempSync(join(tmpdir(), 'local-tables-'));
let dynamo: DynamoDbLocal | undefined;
afterAll(async () => {
  await dynamo?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const clientsFor = (config: DynamoConnection) => ({
  admin: new DynamoDBClient(config),
  client: createDocumentClient(config),
});

describe('ensureTables on a persisted local database', () => {
  it('adds an index a newer version defines and backfills the schedules written before it', async () => {
    // Arrange: the Schedules table as the version before the due index created it, holding an
    // enabled cron schedule written by that version (no due keys); then a restart.
    const tables = localTableNames('schedule-service');
    dynamo = await startDynamoDbLocal({ dataDir });
    const before = clientsFor(dynamo.connection);
    const { admin: oldAdmin, client: oldClient } = before;
    await oldAdmin.send(
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
    await oldClient.send(
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

    oldAdmin.destroy();
    oldClient.destroy();
    await dynamo.stop();
    dynamo = await startDynamoDbLocal({ dataDir });
    const { admin, client } = clientsFor(dynamo.connection);

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
    admin.destroy();
    client.destroy();
    // Index creation is background work in DynamoDB Local: slow on a busy machine.
  }, 240_000);
});
