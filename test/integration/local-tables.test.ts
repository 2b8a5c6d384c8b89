import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { indexAttributes } from '../../core/adapters/dynamodb/execution-items.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import { ExecutionIndex, ScheduleIndex } from '../../core/adapters/dynamodb/tables.js';
import type { Execution } from '../../core/schemas/execution.js';
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
            IndexName: ScheduleIndex.allByCreated,
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

  it('adds the filter cell indexes to an older Executions table and backfills its executions and counts', async () => {
    // Arrange: the tables of this version, then the Executions table set back to the version before
    // the cell indexes (dropped), holding a Failed execution written by that version (no cell keys).
    const tables = localTableNames('cells-upgrade');
    dynamo ??= await startDynamoDbLocal({ dataDir });
    const { admin, client } = clientsFor(dynamo.connection);
    await ensureTables(admin, tables);
    for (const IndexName of [ExecutionIndex.cellByQueuedAt, ExecutionIndex.scheduleCellByQueuedAt]) {
      await admin.send(
        new UpdateTableCommand({
          TableName: tables.executions,
          GlobalSecondaryIndexUpdates: [{ Delete: { IndexName } }],
        }),
      );
      // DynamoDB Local drops an index in the background, one at a time.
      await expect
        .poll(() => indexNames(admin, tables.executions), { timeout: 120_000 })
        .not.toContain(IndexName);
    }
    const execution: Execution = {
      id: '7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b',
      scheduleId: '5e0c6a1f-2b7d-4c1e-9a8f-0d3b6c2e7f41',
      scheduleName: 'Nightly HR sync',
      status: 'Failed',
      overlapPolicy: 'Skip',
      currentStepIndex: 0,
      totalSteps: 1,
      queuedAt: '2026-04-05T06:00:00.000Z',
      startedAt: '2026-04-05T06:00:01.000Z',
      completedAt: '2026-04-05T06:01:00.000Z',
      initiatedByType: 'NotSet',
      initiatedById: null,
      initiatedByName: null,
      errorMessage: "Step 'Import HR' failed.",
      scheduledFor: '2026-04-05T06:00:00.000Z',
      cancelledById: null,
      cancelledByName: null,
      retryOfExecutionId: null,
      retriedByExecutionId: null,
    };
    const { cellPk: _cell, scheduleCellPk: _scheduleCell, ...olderKeys } = indexAttributes(execution);
    await client.send(new PutCommand({ TableName: tables.executions, Item: { ...execution, ...olderKeys } }));

    // Act
    const added = await ensureTables(admin, tables);
    await backfillAddedIndexes(client, tables, added);

    // Assert
    expect(added).toEqual([
      { table: 'executions', indexName: ExecutionIndex.cellByQueuedAt },
      { table: 'executions', indexName: ExecutionIndex.scheduleCellByQueuedAt },
    ]);
    const store = new DynamoExecutionStore(client, tables);
    const request = { sortBy: 'queuedAt', descending: true, pageSize: 20, offset: 0 } as const;
    for (const filter of [
      { statuses: ['Failed'] as const },
      { scheduleId: execution.scheduleId, initiatedByType: 'NotSet' as const },
    ]) {
      expect(await store.count(filter)).toBe(1);
      expect((await store.page({ ...request, ...filter })).items).toEqual([execution]);
    }
    expect(await store.count({ statuses: ['Completed'] })).toBe(0);
    admin.destroy();
    client.destroy();
  }, 300_000);
});

async function indexNames(admin: DynamoDBClient, tableName: string): Promise<string[]> {
  const { Table } = await admin.send(new DescribeTableCommand({ TableName: tableName }));
  return (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName as string);
}
