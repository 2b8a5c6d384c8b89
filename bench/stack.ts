import type { TableNames } from '../core/adapters/dynamodb/tables.js';
import { type DynamoConnection, startDynamoDbLocal } from '../local/dynamodb-local.js';
import { type LocalStackOptions, startLocalStack } from '../local/stack.js';
import { localTableNames } from '../local/tables.js';
import { type CountingProxy, startCountingProxy } from './dynamo-proxy.js';

/**
 * The local stack of `local/stack.ts` (handlers, local API Gateway, local Step Functions), with the
 * counting proxy between the handlers and DynamoDB Local: DynamoDB Local is started here, the proxy in
 * front of it, and `startLocalStack` is given the proxy as its DynamoDB endpoint. The reconciler timer is
 * off (its DynamoDB requests would land in the counts).
 *
 * The handlers build their services once per process (as in a Lambda environment), from the environment
 * that `startLocalStack` sets: one bench stack per process.
 */

export interface BenchStack {
  readonly apiUrl: string;
  readonly adminApiKey: string;
  /** DynamoDB Local itself, for seeding (and replaying) without going through the proxy. */
  readonly dynamo: DynamoConnection;
  /** DynamoDB Local's JVM, for its CPU time (cpu.ts). */
  readonly dynamoPid: number | undefined;
  readonly proxy: CountingProxy;
  /** The states an execution's state machine entered, as the local engine counted them. */
  statesEntered(executionId: string): readonly string[];
  readonly tables: TableNames;
  stop(): Promise<void>;
}

export async function startBenchStack(
  options: Pick<LocalStackOptions, 'waitSeconds' | 'heartbeatTimeoutSeconds' | 'tablePrefix'> & {
    /** Keep every successful write in the proxy (for write-units.ts). */
    logWrites?: boolean;
  } = {},
): Promise<BenchStack> {
  // Handler logs at WARN would interleave with the tables; errors still show.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const tablePrefix = options.tablePrefix ?? 'bench';
  const dynamo = await startDynamoDbLocal();
  let proxy: CountingProxy | undefined;
  try {
    proxy = await startCountingProxy(dynamo.connection.endpoint, { logWrites: options.logWrites ?? false });
    const stack = await startLocalStack({
      waitSeconds: options.waitSeconds,
      heartbeatTimeoutSeconds: options.heartbeatTimeoutSeconds,
      port: 0,
      dynamo: { ...dynamo.connection, endpoint: proxy.endpoint },
      reconcileEveryMs: 0,
      cronTrigger: false,
      // Stream polling would add its own requests to the counted ones.
      changeFeed: false,
      tablePrefix,
    });
    const counting = proxy;
    await counting.take();
    return {
      // The API listens on 127.0.0.1; skip the name lookup of "localhost" on new connections.
      apiUrl: stack.apiUrl.replace('//localhost:', '//127.0.0.1:'),
      adminApiKey: stack.adminApiKey,
      dynamo: dynamo.connection,
      dynamoPid: dynamo.pid,
      proxy: counting,
      statesEntered: (executionId) => stack.statesEntered(executionId),
      tables: localTableNames(tablePrefix),
      stop: async () => {
        // Leaves DynamoDB running (it was given as an endpoint): stopped below, after the proxy.
        await stack.stop();
        await counting.stop();
        await dynamo.stop();
      },
    };
  } catch (error) {
    await proxy?.stop();
    await dynamo.stop();
    throw error;
  }
}
