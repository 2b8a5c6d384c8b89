import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from '../adapters/dynamodb/api-key-store.js';
import { DynamoExecutionStore } from '../adapters/dynamodb/execution-store.js';
import { DynamoIdempotencyStore } from '../adapters/dynamodb/idempotency-store.js';
import { DynamoScheduleStore } from '../adapters/dynamodb/schedule-store.js';
import type { TableNames } from '../adapters/dynamodb/tables.js';
import { DynamoWorkerStore } from '../adapters/dynamodb/worker-store.js';
import { DynamoWorkerTaskStore } from '../adapters/dynamodb/worker-task-store.js';
import { PageTokens } from '../paging.js';
import type {
  ApiKeyStore,
  Clock,
  EventPublisher,
  ExecutionStore,
  IdempotencyStore,
  QueueSignals,
  ScheduleStore,
  WorkerStore,
  WorkerTaskStore,
  Workflow,
} from '../ports.js';
import { ApiKeyService } from './api-keys.js';
import { ChangeFeed } from './change-feed.js';
import { Dispatcher, type DispatcherSettings } from './dispatcher.js';
import { ExecutionService } from './executions.js';
import { DEFAULT_ORCHESTRATOR_SETTINGS, Orchestrator, type OrchestratorSettings } from './orchestrator.js';
import type { SignalFailure } from './queue-signals.js';
import { Reconciler } from './reconciler.js';
import { ScheduleService } from './schedules.js';
import { WakeUps } from './wake-ups.js';
import { type DecisionFailure, WorkerService } from './workers.js';

export interface Services {
  schedules: ScheduleService;
  executions: ExecutionService;
  apiKeys: ApiKeyService;
  orchestrator: Orchestrator;
  workers: WorkerService;
  reconciler: Reconciler;
  dispatcher: Dispatcher;
  changeFeed: ChangeFeed;
}

export interface ServiceOptions {
  workflow: Workflow;
  clock?: Clock;
  settings?: OrchestratorSettings;
  onStartFailure?: (executionId: string, error: unknown) => void;
  dispatcher?: DispatcherSettings;
  /** How long finished executions are kept (default 90 days). */
  retentionSeconds?: number;
  /** Where the change feed publishes status events; without one it cannot run. */
  events?: EventPublisher;
  onFireError?: (scheduleId: string, error: unknown) => void;
  /**
   * Signs `nextToken`s. Every process that lists must share the key (in Lambda, the stack's secret);
   * a random one of this process's own by default.
   */
  pageTokens?: PageTokens;
  /** Wake-ups for waiting claims, one channel per pool (SQS); without them a claim finds only what the table held when it started. */
  signals?: QueueSignals;
  /** Reports a wake-up that could not be sent (it costs latency, never a task). */
  onSignalFailure?: SignalFailure;
  /** Reports a completion that could not decide the next move (it costs a transition, never a step). */
  onDecisionFailure?: DecisionFailure;
}

/** The composition root of the domain over DynamoDB: Lambda handlers, the local runtime and tests share it. */
export function createServices(
  client: DynamoDBDocumentClient,
  tables: TableNames,
  options: ServiceOptions,
): Services {
  return composeServices(dynamoStores(client, tables, options.retentionSeconds), options);
}

/** Every store port's DynamoDB adapter over `tables` (tests also use them behind the services' back). */
export function dynamoStores(client: DynamoDBDocumentClient, tables: TableNames, retentionSeconds?: number) {
  return {
    executions: new DynamoExecutionStore(client, tables, retentionSeconds),
    tasks: new DynamoWorkerTaskStore(client, tables, retentionSeconds),
    workers: new DynamoWorkerStore(client, tables.workers),
    schedules: new DynamoScheduleStore(client, tables.schedules),
    idempotency: new DynamoIdempotencyStore(client, tables.idempotencyKeys),
    apiKeys: new DynamoApiKeyStore(client, tables.apiKeys),
  } satisfies Stores;
}

/** The stores the services work on: DynamoDB's in `createServices`, in-memory fakes in unit tests. */
export interface Stores {
  executions: ExecutionStore;
  tasks: WorkerTaskStore;
  workers: WorkerStore;
  schedules: ScheduleStore;
  idempotency: IdempotencyStore;
  apiKeys: ApiKeyStore;
}

/** The services over the given stores (`retentionSeconds` is the stores' own business here). */
export function composeServices(stores: Stores, options: ServiceOptions): Services {
  const { workflow, clock } = options;
  const settings = options.settings ?? DEFAULT_ORCHESTRATOR_SETTINGS;
  const { executions: executionStore, tasks, schedules: scheduleStore } = stores;
  const wakeUps = new WakeUps({ executions: executionStore, workflow });
  const executions = new ExecutionService({
    executions: executionStore,
    tasks,
    workflow,
    wakeUps,
    pageTokens: options.pageTokens ?? PageTokens.ephemeral(),
    clock,
  });
  const orchestrator = new Orchestrator({
    executions: executionStore,
    tasks,
    workflow,
    wakeUps,
    settings,
    clock,
    signals: options.signals,
    onSignalFailure: options.onSignalFailure,
  });
  const schedules = new ScheduleService({
    schedules: scheduleStore,
    executions: executionStore,
    canceller: executions,
    idempotency: stores.idempotency,
    workflow,
    onStartFailure: options.onStartFailure,
    clock,
  });
  return {
    executions,
    orchestrator,
    schedules,
    changeFeed: new ChangeFeed({
      executions: executionStore,
      events: options.events ?? {
        publish: async () => {
          throw new Error('No event publisher was given to createServices.');
        },
      },
    }),
    dispatcher: new Dispatcher({
      schedules: scheduleStore,
      scheduleService: schedules,
      clock,
      settings: options.dispatcher,
      onFireError: options.onFireError,
    }),
    apiKeys: new ApiKeyService(stores.apiKeys, clock),
    workers: new WorkerService({
      executions: executionStore,
      tasks,
      workers: stores.workers,
      workflow,
      heartbeatTimeoutSeconds: settings.heartbeatTimeoutSeconds,
      orchestrator,
      clock,
      signals: options.signals,
      onSignalFailure: options.onSignalFailure,
      onDecisionFailure: options.onDecisionFailure,
    }),
    reconciler: new Reconciler({ executions: executionStore, tasks, workflow, orchestrator, clock }),
  };
}
