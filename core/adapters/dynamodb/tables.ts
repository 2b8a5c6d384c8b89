/**
 * The DynamoDB tables, described once as data: the CDK data construct and the local runtime's
 * table bootstrap both build from this, so a key or index cannot differ between cloud and laptop.
 */

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** KEYS_ONLY indexes are read for ordering only; the items come from a BatchGetItem. */
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

export interface TableDefinition {
  /** Logical name: stable construct id in CDK, suffix of the physical name locally. */
  readonly id: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly indexes: readonly IndexDefinition[];
  /** Attribute holding the expiry epoch seconds, where items expire. */
  readonly timeToLiveAttribute?: string;
  /** Whether the table has a stream (new and old images), read by the change-feed function. */
  readonly stream?: boolean;
}

/** The TTL attribute of the tables whose items expire (epoch seconds). */
export const EXPIRES_AT = 'expiresAt';

const S = (name: string): KeyAttribute => ({ name, type: 'S' });
const N = (name: string): KeyAttribute => ({ name, type: 'N' });

/** Index names of the executions table. Each sort order has an all-executions and a per-schedule index. */
export const ExecutionIndex = {
  allByQueuedAt: 'all-queuedAt',
  allByStartedAt: 'all-startedAt',
  allByCompletedAt: 'all-completedAt',
  allByStatus: 'all-status',
  scheduleByQueuedAt: 'schedule-queuedAt',
  scheduleByStartedAt: 'schedule-startedAt',
  scheduleByCompletedAt: 'schedule-completedAt',
  scheduleByStatus: 'schedule-status',
  /** Partitioned by status#initiatedByType (a "cell"): a filter is the union of a few cells. */
  cellByQueuedAt: 'cell-queuedAt',
  scheduleCellByQueuedAt: 'schedule-cell-queuedAt',
  active: 'active',
} as const;

/** Index names of the schedules table. */
export const ScheduleIndex = {
  allByCreated: 'all-created',
  due: 'due',
} as const;

/** Index names of the worker tasks table. */
export const WorkerTaskIndex = {
  poolQueued: 'pool-queued',
  allQueued: 'all-queued',
  /** Partitioned by claimant (credential and workerId): the tasks a worker holds (`GET /workers`). */
  claimedBy: 'claimed-by',
} as const;

/** Index names of the API keys table. */
export const ApiKeyIndex = {
  byId: 'by-id',
  allByCreated: 'all-created',
} as const;

/**
 * The executions indexes a deployed stack gains in the upgrade to filter cells, in the order they
 * are created: CloudFormation creates one global secondary index per table update, so an upgrade
 * deploys them one at a time (`executionCellIndexes` in lib/config.ts), and fresh tables get all.
 */
export const EXECUTION_CELL_INDEXES: readonly string[] = [
  ExecutionIndex.cellByQueuedAt,
  ExecutionIndex.scheduleCellByQueuedAt,
];

/** Sort-key attributes of the executions indexes, one per `sortBy`. */
export const ExecutionSortKey = {
  queuedAt: 'kQueued',
  startedAt: 'kStarted',
  completedAt: 'kCompleted',
  status: 'kStatus',
} as const;

export const TABLES = {
  schedules: {
    id: 'Schedules',
    partitionKey: S('id'),
    indexes: [
      // Sparse: only schedule items carry `listPk` (name-reservation items do not).
      {
        indexName: ScheduleIndex.allByCreated,
        partitionKey: S('listPk'),
        sortKey: S('created'),
        projection: 'ALL',
      },
      // Sparse: only schedules that will fire (enabled, Cron) carry `duePartition` and `dueAt`.
      {
        indexName: ScheduleIndex.due,
        partitionKey: S('duePartition'),
        sortKey: S('dueAt'),
        projection: 'KEYS_ONLY',
      },
    ],
  },
  executions: {
    id: 'Executions',
    partitionKey: S('id'),
    // Set when the execution ends; its steps go with it (change feed), so they carry no TTL.
    timeToLiveAttribute: EXPIRES_AT,
    stream: true,
    indexes: [
      {
        indexName: ExecutionIndex.allByQueuedAt,
        partitionKey: S('allPk'),
        sortKey: S('kQueued'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.allByStartedAt,
        partitionKey: S('allPk'),
        sortKey: S('kStarted'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.allByCompletedAt,
        partitionKey: S('allPk'),
        sortKey: S('kCompleted'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.allByStatus,
        partitionKey: S('allPk'),
        sortKey: S('kStatus'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.scheduleByQueuedAt,
        partitionKey: S('scheduleId'),
        sortKey: S('kQueued'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.scheduleByStartedAt,
        partitionKey: S('scheduleId'),
        sortKey: S('kStarted'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.scheduleByCompletedAt,
        partitionKey: S('scheduleId'),
        sortKey: S('kCompleted'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.scheduleByStatus,
        partitionKey: S('scheduleId'),
        sortKey: S('kStatus'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.cellByQueuedAt,
        partitionKey: S('cellPk'),
        sortKey: S('kQueued'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: ExecutionIndex.scheduleCellByQueuedAt,
        partitionKey: S('scheduleCellPk'),
        sortKey: S('kQueued'),
        projection: 'KEYS_ONLY',
      },
      // Sparse: `activePk` is present only while the execution is Queued, InProgress or Paused.
      {
        indexName: ExecutionIndex.active,
        partitionKey: S('activePk'),
        sortKey: S('kQueued'),
        projection: 'KEYS_ONLY',
      },
    ],
  },
  executionSteps: {
    id: 'ExecutionSteps',
    partitionKey: S('executionId'),
    sortKey: N('ordinal'),
    stream: true,
    indexes: [],
  },
  workerTasks: {
    id: 'WorkerTasks',
    partitionKey: S('taskId'),
    timeToLiveAttribute: EXPIRES_AT,
    indexes: [
      // Both sparse: the attributes exist only while the task waits for a worker.
      {
        indexName: WorkerTaskIndex.poolQueued,
        partitionKey: S('queuedPool'),
        sortKey: S('createdAt'),
        projection: 'KEYS_ONLY',
      },
      {
        indexName: WorkerTaskIndex.allQueued,
        partitionKey: S('queuedAll'),
        sortKey: S('createdAt'),
        projection: 'ALL',
      },
      // Sparse: `claimedWorker` exists only while the task is Claimed.
      {
        indexName: WorkerTaskIndex.claimedBy,
        partitionKey: S('claimedWorker'),
        sortKey: S('claimedAt'),
        projection: 'ALL',
      },
    ],
  },
  workers: {
    id: 'Workers',
    // One item per (credential, workerId), written by its claims and heartbeats.
    partitionKey: S('id'),
    // A day after the worker was last seen (it is forgotten); reads skip expired items too.
    timeToLiveAttribute: EXPIRES_AT,
    // None: GET /workers scans the table (see DynamoWorkerStore), so a claim's write is 1 WRU.
    indexes: [],
  },
  counters: {
    id: 'Counters',
    partitionKey: S('id'),
    // Counters never expire; the markers of forgotten executions do (see DynamoExecutionStore.forget).
    timeToLiveAttribute: EXPIRES_AT,
    indexes: [],
  },
  idempotencyKeys: {
    id: 'IdempotencyKeys',
    // `id` is a hash of the key's scope (core/adapters/dynamodb/idempotency-items.ts).
    partitionKey: S('id'),
    // Expired claims are also ignored when read: TTL deletes them only eventually.
    timeToLiveAttribute: EXPIRES_AT,
    indexes: [],
  },
  apiKeys: {
    id: 'ApiKeys',
    partitionKey: S('keyHash'),
    indexes: [
      { indexName: ApiKeyIndex.byId, partitionKey: S('id'), projection: 'KEYS_ONLY' },
      {
        indexName: ApiKeyIndex.allByCreated,
        partitionKey: S('listPk'),
        sortKey: S('created'),
        projection: 'ALL',
      },
    ],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof TABLES;

/** Physical table names, as the handlers receive them (environment variables in Lambda). */
export type TableNames = Record<TableKey, string>;

/** Environment variable carrying each table's name into the handlers. */
export const TABLE_ENV: Record<TableKey, string> = {
  schedules: 'SCHEDULES_TABLE',
  executions: 'EXECUTIONS_TABLE',
  executionSteps: 'EXECUTION_STEPS_TABLE',
  workerTasks: 'WORKER_TASKS_TABLE',
  workers: 'WORKERS_TABLE',
  counters: 'COUNTERS_TABLE',
  apiKeys: 'API_KEYS_TABLE',
  idempotencyKeys: 'IDEMPOTENCY_KEYS_TABLE',
};
