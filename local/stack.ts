import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE_ENV, type TableKey } from '../core/adapters/dynamodb/tables.js';
import { API_BASE_PATH } from '../core/api/routes.js';
import { Role } from '../core/model.js';
import { createLocalApi } from './api-gateway.js';
import { assertPortFree, type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.js';
import { ensureTables, localTableNames } from './tables.js';

/**
 * The whole service on one machine: DynamoDB Local, the tables, the real handlers behind the local
 * API Gateway. Handlers find their resources exactly as in Lambda, through environment variables
 * (table names, and the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`), so none of them knows it is local.
 */

export interface LocalStackOptions {
  /** API port; 0 picks a free one. */
  port: number;
  /** Persist data here; in memory when absent. */
  dataDir?: string;
  /** Use this exact key as the Administrator key (`LOCAL_ADMIN_API_KEY`); a new one otherwise. */
  adminApiKey?: string;
  tablePrefix?: string;
}

export interface LocalStack {
  /** Base URL of the API, ending in `/api/v1`. */
  readonly apiUrl: string;
  readonly adminApiKey: string;
  readonly dynamoEndpoint: string;
  stop(): Promise<void>;
}

export const LOCAL_ADMIN_KEY_NAME = 'local-admin';

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  if (options.port !== 0) await assertPortFree(options.port, 'the API');
  const dynamo: DynamoDbLocal = await startDynamoDbLocal(options.dataDir ? { dataDir: options.dataDir } : {});
  let server: Server | undefined;
  try {
    const tables = localTableNames(options.tablePrefix ?? 'schedule-service');
    Object.assign(process.env, {
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      POWERTOOLS_SERVICE_NAME: 'schedule-execution-service',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });
    for (const [key, variable] of Object.entries(TABLE_ENV) as [TableKey, string][]) {
      process.env[variable] = tables[key];
    }
    const admin = new DynamoDBClient({});
    await ensureTables(admin, tables);
    admin.destroy();

    // Imported only now: handlers read their environment when first used, as in a Lambda cold start.
    const [schedules, executions, apiKeys, meta, authorizer, environment] = await Promise.all([
      import('../functions/schedules.js'),
      import('../functions/executions.js'),
      import('../functions/api-keys.js'),
      import('../functions/meta.js'),
      import('../functions/authorizer.js'),
      import('../functions/environment.js'),
    ]);
    const adminApiKey = await provisionAdminKey(environment.getServices().apiKeys, options.adminApiKey);

    server = createLocalApi({
      handlers: {
        schedules: schedules.handler,
        executions: executions.handler,
        'api-keys': apiKeys.handler,
        meta: meta.handler,
      },
      authorizer: authorizer.handler,
    });
    const listening = server;
    await new Promise<void>((ok, fail) => {
      listening.once('error', fail);
      listening.listen(options.port, '127.0.0.1', () => ok());
    });
    const { port } = listening.address() as AddressInfo;
    return {
      apiUrl: `http://localhost:${port}${API_BASE_PATH}`,
      adminApiKey,
      dynamoEndpoint: dynamo.endpoint,
      stop: async () => {
        await new Promise<void>((done) => {
          listening.close(() => done());
          listening.closeAllConnections();
        });
        await dynamo.stop();
      },
    };
  } catch (error) {
    server?.close();
    await dynamo.stop();
    throw error;
  }
}

type ApiKeys = ReturnType<typeof import('../functions/environment.js').getServices>['apiKeys'];

/**
 * The operator's key: the one they chose (kept across restarts), or a fresh one each start, in which
 * case earlier generated `local-admin` keys are revoked so old ones do not pile up or stay valid.
 */
async function provisionAdminKey(apiKeys: ApiKeys, chosen: string | undefined): Promise<string> {
  if (chosen) {
    await apiKeys.ensure(LOCAL_ADMIN_KEY_NAME, [Role.Administrator], chosen);
    return chosen;
  }
  const previous = (await apiKeys.list(1, 100)).items.filter((key) => key.name === LOCAL_ADMIN_KEY_NAME);
  const created = await apiKeys.create({ name: LOCAL_ADMIN_KEY_NAME, roles: [Role.Administrator] });
  for (const key of previous) await apiKeys.revoke(key.id);
  return created.key;
}
