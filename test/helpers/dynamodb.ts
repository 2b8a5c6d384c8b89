import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { ensureTables, localTableNames } from '../../local/tables.js';

/** Fresh tables (unique prefix) in the suite's DynamoDB Local, and a document client for them. */
export async function freshTables() {
  const config = inject('dynamo');
  const tables = localTableNames(`t${randomUUID().slice(0, 8)}`);
  const admin = new DynamoDBClient(config);
  // No TTL: the tests' clocks are in the past, and the sweeper would delete what they write.
  await ensureTables(admin, tables, { timeToLive: false });
  admin.destroy();
  return { tables, config, client: createDocumentClient(config) };
}
