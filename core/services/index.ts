import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from '../adapters/dynamodb/api-key-store.js';
import { DynamoExecutionStore } from '../adapters/dynamodb/execution-store.js';
import { DynamoScheduleStore } from '../adapters/dynamodb/schedule-store.js';
import type { TableNames } from '../adapters/dynamodb/tables.js';
import type { Clock } from '../ports.js';
import { ApiKeyService } from './api-keys.js';
import { ExecutionService } from './executions.js';
import { ScheduleService } from './schedules.js';

export interface Services {
  schedules: ScheduleService;
  executions: ExecutionService;
  apiKeys: ApiKeyService;
}

/** The composition root of the domain over DynamoDB: Lambda handlers, the local runtime and tests share it. */
export function createServices(client: DynamoDBDocumentClient, tables: TableNames, clock?: Clock): Services {
  const executionStore = new DynamoExecutionStore(client, tables);
  const executions = new ExecutionService({ executions: executionStore, clock });
  return {
    executions,
    schedules: new ScheduleService({
      schedules: new DynamoScheduleStore(client, tables.schedules),
      executions: executionStore,
      executionService: executions,
      clock,
    }),
    apiKeys: new ApiKeyService(new DynamoApiKeyStore(client, tables.apiKeys), clock),
  };
}
