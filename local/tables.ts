import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backfillExecutionCells } from '../core/adapters/dynamodb/cell-backfill.js';
import { DynamoScheduleStore } from '../core/adapters/dynamodb/schedule-store.js';
import {
  EXECUTION_CELL_INDEXES,
  ScheduleIndex,
  TABLES,
  type TableDefinition,
  type TableKey,
  type TableNames,
} from '../core/adapters/dynamodb/tables.js';

const STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

/** Physical names locally: `<prefix>-<id>`, as CDK would name them in a stack. */
export function localTableNames(prefix: string): TableNames {
  const names = {} as TableNames;
  for (const [key, table] of Object.entries(TABLES) as [TableKey, TableDefinition][]) {
    names[key] = `${prefix}-${table.id}`;
  }
  return names;
}

function createTableInput(name: string, table: TableDefinition, streams: boolean): CreateTableCommandInput {
  const attributes = new Map<string, 'S' | 'N'>();
  const keySchema = (
    partition: { name: string; type: 'S' | 'N' },
    sort?: { name: string; type: 'S' | 'N' },
  ) => {
    attributes.set(partition.name, partition.type);
    if (sort) attributes.set(sort.name, sort.type);
    return [
      { AttributeName: partition.name, KeyType: 'HASH' as const },
      ...(sort ? [{ AttributeName: sort.name, KeyType: 'RANGE' as const }] : []),
    ];
  };
  const input: CreateTableCommandInput = {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keySchema(table.partitionKey, table.sortKey),
    AttributeDefinitions: [],
    ...(table.stream && streams ? { StreamSpecification: STREAM } : {}),
  };
  if (table.indexes.length > 0) {
    input.GlobalSecondaryIndexes = table.indexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: keySchema(index.partitionKey, index.sortKey),
      Projection: { ProjectionType: index.projection },
    }));
  }
  input.AttributeDefinitions = [...attributes].map(([AttributeName, AttributeType]) => ({
    AttributeName,
    AttributeType,
  }));
  return input;
}

export interface EnsureTablesOptions {
  /**
   * Create the tables' streams (default true). Benchmarks of write paths turn them off: DynamoDB
   * Local keeps stream records in its own store and slows down as they pile up, which AWS does not.
   */
  streams?: boolean;
  /**
   * Turn TTL on where the table has it (default true). Integration tests turn it off: they run on
   * fixed clocks months in the past, so everything they write has expired already, and DynamoDB
   * Local's TTL sweeper would delete it in the middle of a test.
   */
  timeToLive?: boolean;
}

/** An index added to a table that already existed: its items written before need the new keys. */
export interface AddedIndex {
  table: TableKey;
  indexName: string;
}

/**
 * Creates the tables that do not exist yet, and adds to existing ones (a persisted local database)
 * the indexes a newer version of the service defines. Returns the indexes it added.
 */
export async function ensureTables(
  client: DynamoDBClient,
  names: TableNames,
  options: EnsureTablesOptions = {},
): Promise<AddedIndex[]> {
  const streams = options.streams ?? true;
  const added: AddedIndex[] = [];
  for (const [key, table] of Object.entries(TABLES) as [TableKey, TableDefinition][]) {
    const input = createTableInput(names[key], table, streams);
    try {
      await client.send(new CreateTableCommand(input));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      for (const indexName of await addMissingIndexes(client, input)) added.push({ table: key, indexName });
      if (streams) await enableMissingStream(client, names[key], table);
    }
    if (options.timeToLive ?? true) await enableTimeToLive(client, names[key], table);
  }
  return added;
}

/** TTL, when the table has it and it is not on yet (a new table, or one from an older version). */
async function enableTimeToLive(client: DynamoDBClient, tableName: string, table: TableDefinition) {
  if (!table.timeToLiveAttribute) return;
  const { TimeToLiveDescription } = await client.send(
    new DescribeTimeToLiveCommand({ TableName: tableName }),
  );
  if (TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED') return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
    }),
  );
}

async function enableMissingStream(client: DynamoDBClient, tableName: string, table: TableDefinition) {
  if (!table.stream) return;
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (Table?.StreamSpecification?.StreamEnabled) return;
  await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: STREAM }));
}

async function addMissingIndexes(client: DynamoDBClient, wanted: CreateTableCommandInput): Promise<string[]> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: wanted.TableName }));
  const existing = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = (wanted.GlobalSecondaryIndexes ?? []).filter((index) => !existing.has(index.IndexName));
  // DynamoDB creates one index per UpdateTable call, and writes fail until the new one is ACTIVE.
  for (const index of missing) {
    await client.send(
      new UpdateTableCommand({
        TableName: wanted.TableName,
        AttributeDefinitions: wanted.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    await waitForIndexes(client, wanted.TableName as string);
  }
  return missing.map((index) => index.IndexName as string);
}

/**
 * Waits until no index of the table is being created or deleted. DynamoDB Local does that work in
 * the background and, on a busy machine, takes minutes; it happens once per upgrade.
 */
async function waitForIndexes(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; attempt < 3_000; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if ((Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`The indexes of ${tableName} did not become ACTIVE within five minutes.`);
}

/**
 * Items written before an index existed lack its key attributes, so the new index would miss them.
 * The store writes those attributes on every write, so rewriting an item as it is fills them in.
 */
export async function backfillAddedIndexes(
  client: DynamoDBDocumentClient,
  names: TableNames,
  added: readonly AddedIndex[],
): Promise<void> {
  if (added.some((index) => index.table === 'schedules' && index.indexName === ScheduleIndex.due)) {
    const store = new DynamoScheduleStore(client, names.schedules);
    for (const schedule of await store.listAll()) await store.replace(schedule, schedule);
  }
  if (added.some((i) => i.table === 'executions' && EXECUTION_CELL_INDEXES.includes(i.indexName))) {
    await backfillExecutionCells(client, names);
  }
}
