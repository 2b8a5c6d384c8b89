import { DynamoApiKeyStore } from '../../core/adapters/dynamodb/api-key-store.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { DynamoIdempotencyStore } from '../../core/adapters/dynamodb/idempotency-store.js';
import { DynamoScheduleStore } from '../../core/adapters/dynamodb/schedule-store.js';
import { DynamoWorkerStore } from '../../core/adapters/dynamodb/worker-store.js';
import { DynamoWorkerTaskStore } from '../../core/adapters/dynamodb/worker-task-store.js';
import { storeContracts } from '../contract/index.js';
import { freshTables } from '../helpers/dynamodb.js';

/** The DynamoDB adapters held to the contract the in-memory fakes are (test/unit/store-contracts.test.ts). */
storeContracts('DynamoDB Local', async (options) => {
  const { client, tables } = await freshTables();
  const executions = new DynamoExecutionStore(client, tables, undefined, options?.maxRangeCount);
  return {
    executions,
    tasks: new DynamoWorkerTaskStore(client, tables),
    workers: new DynamoWorkerStore(client, tables.workers),
    schedules: new DynamoScheduleStore(client, tables.schedules),
    idempotency: new DynamoIdempotencyStore(client, tables.idempotencyKeys),
    apiKeys: new DynamoApiKeyStore(client, tables.apiKeys),
  };
});
