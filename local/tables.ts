import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  TABLES,
  type TableDefinition,
  type TableKey,
  type TableNames,
} from '../core/adapters/dynamodb/tables.js';

/** Physical names locally: `<prefix>-<id>`, as CDK would name them in a stack. */
export function localTableNames(prefix: string): TableNames {
  const names = {} as TableNames;
  for (const [key, table] of Object.entries(TABLES) as [TableKey, TableDefinition][]) {
    names[key] = `${prefix}-${table.id}`;
  }
  return names;
}

function createTableInput(name: string, table: TableDefinition): CreateTableCommandInput {
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

/** Creates the tables that do not exist yet (a persisted local database already has them). */
export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  for (const [key, table] of Object.entries(TABLES) as [TableKey, TableDefinition][]) {
    try {
      await client.send(new CreateTableCommand(createTableInput(names[key], table)));
      if (table.timeToLiveAttribute) {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: names[key],
            TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
          }),
        );
      }
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
}
