import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import { TABLE_ENV, type TableKey } from '../core/adapters/dynamodb/tables.js';
import { consoleConfig } from '../core/api/console-config.js';
import { API_BASE_PATH } from '../core/api/routes.js';
import { type OidcSettings, oidcEnvironment } from '../core/auth/oidc-settings.js';
import { ALL_DUE_PARTITIONS } from '../core/due-partitions.js';
import { OIDC_ENV, PAGE_TOKEN_ENV, SIGNAL_ENV, WORKFLOW_ENV } from '../core/environment.js';
import { SERVICE_NAME } from '../core/metrics.js';
import { Role } from '../core/model.js';
import { DEFAULT_ORCHESTRATOR_SETTINGS } from '../core/services/orchestrator.js';
import { RECONCILE_GRACE_MS } from '../core/services/reconciler.js';
import { WorkerAgent } from '../worker/agent.js';
import { loadWorkerConfig } from '../worker/config.js';
import { createLocalApi, invoke } from './api-gateway.js';
import { consoleSite } from './console-site.js';
import {
  assertPortFree,
  type DynamoConnection,
  type DynamoDbLocal,
  startDynamoDbLocal,
} from './dynamodb-local.js';
import { type LocalEventBridge, type PublishedEvent, startLocalEventBridge } from './eventbridge.js';
import { closeServer, listenOnLoopback } from './http.js';
import { LOCAL_PAGE_TOKEN_SECRET, type LocalSecrets, pageTokenKey, startLocalSecrets } from './secrets.js';
import { type LocalSqs, startLocalSqs } from './sqs.js';
import { type LocalStepFunctions, startLocalStepFunctions } from './step-functions/index.js';
import { followStreams } from './streams.js';
import { backfillAddedIndexes, ensureTables, localTableNames } from './tables.js';

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
  /** Longest park of a paused or buffered execution without a wake-up before the state machine looks again (default 3600). */
  waitSeconds?: number;
  /** A claimed step with no heartbeat for this long fails (default 120). */
  heartbeatTimeoutSeconds?: number;
  /** A step no worker claims for this long fails as never claimed (default a day). */
  queueTimeoutSeconds?: number;
  /** How often the reconciler runs (EventBridge: every minute); 0 turns it off (benchmarks). */
  reconcileEveryMs?: number;
  /**
   * Fire due cron schedules at each minute boundary, as EventBridge's minute rule does in the cloud
   * (default on; tests that must not fire schedules by wall clock turn it off).
   */
  cronTrigger?: boolean;
  /**
   * Follow the Executions and ExecutionSteps streams with the change-feed handler (status events,
   * metrics, retention clean-up), as the event source mappings do in the cloud (default on).
   */
  changeFeed?: boolean;
  /** Seconds a finished execution is kept before TTL removes it (default 90 days). */
  retentionSeconds?: number;
  /** Use this DynamoDB database (left running on stop) instead of starting DynamoDB Local. */
  dynamo?: DynamoConnection;
  /**
   * Run the worker agent in-process with this configuration file (its `apiUrl` and key are replaced
   * by the local ones), so schedules run with no extra setup. Off when absent.
   */
  workerConfigFile?: string;
  /** Accept `Authorization: Bearer` tokens from this OIDC issuer (handed to the authorizer as in Lambda); off when absent. */
  oidc?: OidcSettings;
  /** Serve the operator console's built files from this folder at `/` (see local/console-site.ts); off when absent. */
  consoleDir?: string;
}

export interface LocalStack {
  /** Base URL of the API, ending in `/api/v1`. */
  readonly apiUrl: string;
  readonly adminApiKey: string;
  /** The operator console's address (`http://localhost:<port>/`), when it is served. */
  readonly consoleUrl?: string;
  /** The DynamoDB Local database the handlers use, with its secret access key id. */
  readonly dynamo: DynamoConnection;
  /** The embedded worker's id and pools, when one runs. */
  readonly worker?: { workerId: string; pools: readonly string[] };
  /** Events published to the local EventBridge (status changes, step failures), oldest first. */
  events(): readonly PublishedEvent[];
  /** The states the execution's state machine entered so far, in order: its billed transitions. */
  statesEntered(executionId: string): readonly string[];
  stop(): Promise<void>;
}

export const LOCAL_ADMIN_KEY_NAME = 'local-admin';
export const LOCAL_WORKER_KEY_NAME = 'local-worker';
/** The embedded worker's longest claim long poll, whatever its configuration file says. */
const EMBEDDED_POLL_WAIT_SECONDS = 2;

const ORCHESTRATOR_ARN = 'arn:aws:lambda:local:000000000000:function:orchestrator';
const DEFINITION = fileURLToPath(new URL('../statemachines/execution.asl.json', import.meta.url));

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // The embedded worker gets the environment the operator started with, as a worker of its own
  // would: not the handlers' variables set below, which include the database's secret key id.
  const operatorEnv = { ...process.env };
  if (options.port !== 0) await assertPortFree(options.port, 'the API');
  const dynamo: DynamoDbLocal = options.dynamo
    ? { connection: options.dynamo, stop: async () => undefined }
    : await startDynamoDbLocal(options.dataDir ? { dataDir: options.dataDir } : {});
  let server: Server | undefined;
  let stepFunctions: LocalStepFunctions | undefined;
  let eventBridge: LocalEventBridge | undefined;
  let secrets: LocalSecrets | undefined;
  let sqs: LocalSqs | undefined;
  let streamFollower: { stop(): Promise<void> } | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let cronTicker: { stop(): void } | undefined;
  try {
    // The state machine's Lambda tasks run the real orchestrator handler in-process.
    stepFunctions = await startLocalStepFunctions({
      definitionPath: DEFINITION,
      substitutions: { OrchestratorFunctionArn: ORCHESTRATOR_ARN },
      lambdas: {
        [ORCHESTRATOR_ARN]: async (payload) =>
          invoke('orchestrator', (await import('../functions/orchestrator.js')).handler, payload),
      },
    });
    eventBridge = await startLocalEventBridge();
    secrets = await startLocalSecrets({ [LOCAL_PAGE_TOKEN_SECRET]: pageTokenKey(options.dataDir) });
    sqs = await startLocalSqs();
    const tablePrefix = options.tablePrefix ?? 'schedule-service';
    const tables = localTableNames(tablePrefix);
    Object.assign(process.env, {
      AWS_REGION: dynamo.connection.region,
      AWS_ACCESS_KEY_ID: dynamo.connection.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: dynamo.connection.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.connection.endpoint,
      AWS_ENDPOINT_URL_SFN: stepFunctions.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      [SIGNAL_ENV.queuePrefix]: `${tablePrefix}-claims-`,
      // What Lambda and its secrets extension give a function: its session token and the extension's port.
      AWS_SESSION_TOKEN: secrets.sessionToken,
      [PAGE_TOKEN_ENV.extensionPort]: String(secrets.port),
      [PAGE_TOKEN_ENV.secretId]: LOCAL_PAGE_TOKEN_SECRET,
      [WORKFLOW_ENV.stateMachineArn]: stepFunctions.stateMachineArn,
      [WORKFLOW_ENV.waitSeconds]: String(options.waitSeconds ?? DEFAULT_ORCHESTRATOR_SETTINGS.waitSeconds),
      [WORKFLOW_ENV.heartbeatTimeoutSeconds]: String(
        options.heartbeatTimeoutSeconds ?? DEFAULT_ORCHESTRATOR_SETTINGS.heartbeatTimeoutSeconds,
      ),
      [WORKFLOW_ENV.queueTimeoutSeconds]: String(
        options.queueTimeoutSeconds ?? DEFAULT_ORCHESTRATOR_SETTINGS.queueTimeoutSeconds,
      ),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      // EMF lines on the terminal every minute help nobody locally; CloudWatch is where they count.
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      // No X-Ray daemon here, so nothing to trace: without a tracer the X-Ray SDK is not even loaded
      // (see functions/tracer.ts).
      POWERTOOLS_TRACE_ENABLED: process.env.POWERTOOLS_TRACE_ENABLED ?? 'false',
    });
    if (options.retentionSeconds !== undefined) {
      process.env[WORKFLOW_ENV.retentionSeconds] = String(options.retentionSeconds);
    }
    for (const [key, variable] of Object.entries(TABLE_ENV) as [TableKey, string][]) {
      process.env[variable] = tables[key];
    }
    // The options alone decide: a variable left in the shell must not turn sign-in on behind them.
    for (const variable of Object.values(OIDC_ENV)) delete process.env[variable];
    if (options.oidc) Object.assign(process.env, oidcEnvironment(options.oidc));
    const admin = new DynamoDBClient({});
    const addedIndexes = await ensureTables(admin, tables);
    admin.destroy();
    await backfillAddedIndexes(createDocumentClient(), tables, addedIndexes);

    // Imported only now: handlers read their environment when first used, as in a Lambda cold start.
    const [
      schedules,
      executions,
      apiKeys,
      meta,
      claims,
      worker,
      authorizer,
      reconciler,
      dispatcher,
      environment,
      changeFeed,
    ] = await Promise.all([
      import('../functions/schedules.js'),
      import('../functions/executions.js'),
      import('../functions/api-keys.js'),
      import('../functions/meta.js'),
      import('../functions/claims.js'),
      import('../functions/worker.js'),
      import('../functions/authorizer.js'),
      import('../functions/reconciler.js'),
      import('../functions/dispatcher.js'),
      import('../functions/environment.js'),
      import('../functions/change-feed.js'),
    ]);
    if (options.changeFeed ?? true) {
      streamFollower = await followStreams({
        dynamo: dynamo.connection,
        tableNames: [tables.executions, tables.executionSteps],
        handler: (event) => invoke('change-feed', changeFeed.handler, event),
      });
    }
    const adminApiKey = await provisionAdminKey(environment.getServices().apiKeys, options.adminApiKey);

    server = createLocalApi({
      handlers: {
        schedules: schedules.handler,
        executions: executions.handler,
        'api-keys': apiKeys.handler,
        meta: meta.handler,
        claims: claims.handler,
        worker: worker.handler,
      },
      authorizer: authorizer.handler,
      ...(options.consoleDir ? { site: consoleSite(options.consoleDir, consoleConfig(options.oidc)) } : {}),
    });
    const listening = server;
    const port = await listenOnLoopback(listening, options.port);

    // EventBridge's minute rule. Its first run at start-up also resumes executions whose state
    // machine was lost with the previous process (the local engine keeps runs in memory).
    const reconcile = () =>
      invoke('reconciler', reconciler.handler, {}).catch((error: unknown) => {
        console.error('Reconciler failed:', error instanceof Error ? error.message : error);
      });
    const every = options.reconcileEveryMs ?? 60_000;
    if (every > 0) {
      void reconcile();
      // Once more when the grace of executions the previous process left (queued just before it
      // died) has passed, so a crash costs the grace, not a whole period.
      graceTimer = setTimeout(reconcile, RECONCILE_GRACE_MS + 1000);
      ticker = setInterval(reconcile, every);
    }
    if (options.cronTrigger ?? true) {
      // One invocation per due partition, with the input each EventBridge target sends.
      const dispatch = () =>
        Promise.all(
          ALL_DUE_PARTITIONS.map((partition) =>
            invoke('dispatcher', dispatcher.handler, { partition }).catch((error: unknown) => {
              console.error('Dispatcher failed:', error instanceof Error ? error.message : error);
            }),
          ),
        );
      cronTicker = everyMinute(dispatch);
    }
    const sfn = stepFunctions;
    const apiUrl = `http://localhost:${port}${API_BASE_PATH}`;

    let agent: WorkerAgent | undefined;
    let workerInfo: { workerId: string; pools: readonly string[] } | undefined;
    if (options.workerConfigFile) {
      const loaded = await loadWorkerConfig(options.workerConfigFile);
      // Stopping waits for the pending claim (see stop): a short long poll keeps Ctrl-C prompt, and
      // costs nothing in hand-off time, since a claim returns as soon as a task is queued.
      const pollWaitSeconds = Math.min(loaded.pollWaitSeconds, EMBEDDED_POLL_WAIT_SECONDS);
      const config = { ...loaded, apiUrl, pollWaitSeconds };
      workerInfo = { workerId: config.workerId, pools: config.pools };
      const apiKey = await provisionKey(
        environment.getServices().apiKeys,
        LOCAL_WORKER_KEY_NAME,
        Role.Worker,
      );
      agent = new WorkerAgent({ config, apiKey, env: operatorEnv });
      agent.start();
    }
    const embedded = agent;
    const bus = eventBridge;
    const secretsEndpoint = secrets;
    const signalQueues = sqs;
    const follower = streamFollower;
    return {
      apiUrl,
      events: () => bus.events(),
      statesEntered: (executionId) => sfn.statesEntered(executionId),
      adminApiKey,
      ...(options.consoleDir ? { consoleUrl: `http://localhost:${port}/` } : {}),
      ...(workerInfo ? { worker: workerInfo } : {}),
      dynamo: dynamo.connection,
      stop: async () => {
        clearInterval(ticker);
        clearTimeout(graceTimer);
        cronTicker?.stop();
        // The worker stops first, with the API still serving: its pending long poll is answered
        // (at most pollWaitSeconds; cutting it could strand what it claims) and the steps it runs
        // may finish within its grace period and report their end. Only then does the API close.
        await embedded?.stop();
        await closeServer(listening);
        await follower?.stop();
        await sfn.stop();
        await bus.stop();
        await secretsEndpoint.stop();
        await signalQueues.stop();
        await dynamo.stop();
      },
    };
  } catch (error) {
    clearInterval(ticker);
    clearTimeout(graceTimer);
    cronTicker?.stop();
    server?.close();
    await streamFollower?.stop();
    await eventBridge?.stop();
    await secrets?.stop();
    await sqs?.stop();
    await stepFunctions?.stop();
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
  return provisionKey(apiKeys, LOCAL_ADMIN_KEY_NAME, Role.Administrator);
}

/** A fresh key named `name`; the earlier keys of that name are revoked. */
async function provisionKey(apiKeys: ApiKeys, name: string, role: Role): Promise<string> {
  const previous = (await apiKeys.list(1, 100)).items.filter((key) => key.name === name);
  const created = await apiKeys.create({ name, roles: [role] });
  for (const key of previous) await apiKeys.revoke(key.id);
  return created.key;
}

/**
 * Calls `tick` just after each minute boundary of the wall clock, as EventBridge's `cron(* * * * ? *)`
 * rule does; a tick that overruns delays the next one rather than overlapping it.
 */
function everyMinute(tick: () => Promise<unknown>): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = () => {
    // A few milliseconds past the boundary, so the tick's clock has certainly reached the fire time.
    const delay = 60_000 - (Date.now() % 60_000) + 50;
    timer = setTimeout(async () => {
      await tick();
      if (!stopped) arm();
    }, delay);
  };
  arm();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
