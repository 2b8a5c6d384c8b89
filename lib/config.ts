import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { DEFAULT_RETENTION_SECONDS } from '../core/adapters/dynamodb/retention.js';
import { EXECUTION_CELL_INDEXES } from '../core/adapters/dynamodb/tables.js';
import {
  type OidcSettingNames,
  type OidcSettings,
  OidcSettingsError,
  parseOidcSettings,
} from '../core/auth/oidc-settings.js';
import { enumOf, type ValueOf } from '../core/enum.js';
import { DEFAULT_ORCHESTRATOR_SETTINGS, type OrchestratorSettings } from '../core/services/orchestrator.js';

/**
 * Deployment settings, read from CDK context (`cdk.json` or `cdk deploy -c key=value`), each with
 * a default, so `cdk synth` works with no context at all. Parsed and checked once, here, so the
 * constructs receive typed values and a typo fails the synth instead of the deployment.
 */

/** The name Powertools reports in every log line and metric. */
export { SERVICE_NAME } from '../core/metrics.js';

/** Context keys this app reads. */
export const ContextKey = {
  stageName: 'stageName',
  logRetentionDays: 'logRetentionDays',
  throttlingRateLimit: 'throttlingRateLimit',
  throttlingBurstLimit: 'throttlingBurstLimit',
  orchestratorWaitSeconds: 'orchestratorWaitSeconds',
  stepHeartbeatTimeoutSeconds: 'stepHeartbeatTimeoutSeconds',
  stepQueueTimeoutSeconds: 'stepQueueTimeoutSeconds',
  retentionDays: 'retentionDays',
  oidcIssuer: 'oidcIssuer',
  oidcAudience: 'oidcAudience',
  oidcRolesClaim: 'oidcRolesClaim',
  oidcJwksUri: 'oidcJwksUri',
  oidcClientIds: 'oidcClientIds',
  logLevel: 'logLevel',
  alarmEmail: 'alarmEmail',
  oldestTaskAgeAlarmSeconds: 'oldestTaskAgeAlarmSeconds',
  api5xxAlarmPercent: 'api5xxAlarmPercent',
  executionCellIndexes: 'executionCellIndexes',
  workerReservedConcurrency: 'workerReservedConcurrency',
  authorizerReservedConcurrency: 'authorizerReservedConcurrency',
} as const;

const OIDC_CONTEXT_KEYS: OidcSettingNames = {
  issuer: ContextKey.oidcIssuer,
  audience: ContextKey.oidcAudience,
  rolesClaim: ContextKey.oidcRolesClaim,
  jwksUri: ContextKey.oidcJwksUri,
  clientIds: ContextKey.oidcClientIds,
};

/** The levels Powertools Logger accepts in `POWERTOOLS_LOG_LEVEL`. */
export const FunctionLogLevel = enumOf('DEBUG', 'INFO', 'WARN', 'ERROR');
export type FunctionLogLevel = ValueOf<typeof FunctionLogLevel>;

/**
 * The reconciler heartbeats unclaimed worker tasks once a minute (the state machine's heartbeat
 * deadline is meant for running steps, not for steps still waiting for a worker). A heartbeat
 * timeout shorter than that interval plus the schedule's jitter would fail every step that waits
 * for a worker longer than a minute.
 */
export const MIN_STEP_HEARTBEAT_TIMEOUT_SECONDS = 90;

/** API Gateway stage throttling, applied to every method of the stage. */
export interface StageThrottling {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the rate (the token bucket's size). */
  readonly burstLimit: number;
}

export interface ServiceConfig {
  /** API Gateway stage name; part of every URL. */
  readonly stageName: string;
  /** How long Lambda and API access logs are kept. */
  readonly logRetention: RetentionDays;
  /** Stage-wide throttling. */
  readonly throttling: StageThrottling;
  /**
   * The longest a paused or buffered execution stays parked without a wake-up before the state
   * machine looks again (the fallback for a lost wake-up), the heartbeat deadline of a running step
   * and how long a step may wait for a worker (`ORCHESTRATOR_WAIT_SECONDS`,
   * `STEP_HEARTBEAT_TIMEOUT_SECONDS`, `STEP_QUEUE_TIMEOUT_SECONDS` in every function that builds the
   * services).
   */
  readonly orchestrator: OrchestratorSettings;
  /** Days a finished execution and its steps are kept before DynamoDB's TTL removes them. */
  readonly retentionDays: number;
  /**
   * Sign-in with `Authorization: Bearer` tokens from an OIDC issuer (`oidcIssuer`, `oidcAudience`,
   * `oidcRolesClaim` default `roles`, `oidcJwksUri` default discovered, `oidcClientIds` default the
   * audience); off when no issuer is set.
   * Only the authorizer receives it.
   */
  readonly oidc?: OidcSettings;
  /** `POWERTOOLS_LOG_LEVEL` of every function. */
  readonly logLevel: FunctionLogLevel;
  /** Alarm thresholds and who is told. */
  readonly alarms: AlarmSettings;
  /**
   * How many of the Executions table's cell indexes (EXECUTION_CELL_INDEXES, first ones first) the
   * template has: all by default. Upgrading a stack deployed before them takes one deploy per index,
   * since CloudFormation creates one global secondary index per table update (README, Deploy to AWS).
   */
  readonly executionCellIndexes: number;
  /** Reserved concurrency of the functions that could crowd out the rest of the service. */
  readonly capacity: CapacitySettings;
}

/**
 * Reserved concurrency caps a function, and sets that much of the account's Lambda concurrency
 * aside for it. Worker claims long-poll (up to 20 s each), and the authorizer runs before every
 * request: capped, neither can take the concurrency the orchestrator, the reconciler, the dispatcher
 * and the API handlers need. Undefined: no reservation (context value 0), for an account whose
 * limit is too small to set any aside (Lambda keeps 100 of it unreserved).
 */
export interface CapacitySettings {
  /** The claims function: about one concurrent execution per polling worker (heartbeats and completes are the worker function's). */
  readonly workerReservedConcurrency?: number;
  /** The authorizer: no result cache, so one short invocation per API request. */
  readonly authorizerReservedConcurrency?: number;
}

export interface AlarmSettings {
  /** Subscribed to the alarm topic by email when set (the address must confirm the subscription). */
  readonly email?: string;
  /**
   * Age in seconds of the oldest worker task no worker has claimed above which an alarm fires:
   * steps are waiting and no worker is taking them (workers down or all busy).
   */
  readonly oldestTaskAgeSeconds: number;
  /** Share of API requests answered 5xx, in percent, above which an alarm fires. */
  readonly api5xxPercent: number;
}

/**
 * Defaults sized for a small team's scheduler: far above what the UI and a few workers send, low
 * enough that a runaway client is answered 429 before it runs up the DynamoDB and Lambda bill.
 */
export const DEFAULT_CONFIG: ServiceConfig = {
  stageName: 'prod',
  logRetention: RetentionDays.ONE_MONTH,
  throttling: { rateLimit: 50, burstLimit: 100 },
  orchestrator: DEFAULT_ORCHESTRATOR_SETTINGS,
  retentionDays: DEFAULT_RETENTION_SECONDS / 86_400,
  logLevel: FunctionLogLevel.INFO,
  // Ten minutes: a worker claims within seconds when one is up, and an unclaimed step keeps its
  // execution (and the schedule's next runs, under the overlap policy) waiting.
  alarms: { oldestTaskAgeSeconds: 600, api5xxPercent: 5 },
  executionCellIndexes: EXECUTION_CELL_INDEXES.length,
  // 150 of the default account limit of 1000 (at most 900 may be reserved). The claims function's
  // 50: 50 workers long-polling at once (heartbeats and completes are the worker function's). The
  // authorizer's 100: the stage's default burst, each request of which may run it at once.
  capacity: { workerReservedConcurrency: 50, authorizerReservedConcurrency: 100 },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const RETENTION_DAYS = new Set<number>(
  Object.values(RetentionDays).filter((value): value is number => typeof value === 'number'),
);

// `-c key=value` arrives as a string, `cdk.json` may hold a number: accept both.
function positiveNumber(key: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
    throw new ConfigError(`Context ${key} must be a positive number, got ${JSON.stringify(value)}.`);
  }
  return parsed;
}

/** Reads and checks the app's context; throws {@link ConfigError} on a bad value. */
export function readConfig(node: Node): ServiceConfig {
  const stageName = node.tryGetContext(ContextKey.stageName) ?? DEFAULT_CONFIG.stageName;
  if (typeof stageName !== 'string' || !/^[A-Za-z0-9_-]+$/.test(stageName)) {
    throw new ConfigError(`Context ${ContextKey.stageName} must be letters, digits, - or _.`);
  }
  const retention = positiveNumber(
    ContextKey.logRetentionDays,
    node.tryGetContext(ContextKey.logRetentionDays),
    DEFAULT_CONFIG.logRetention,
  );
  // CloudWatch Logs accepts only its own list of retention periods (1, 3, 5, 7, 14, 30, ...).
  if (!RETENTION_DAYS.has(retention)) {
    throw new ConfigError(
      `Context ${ContextKey.logRetentionDays} must be one of ${[...RETENTION_DAYS].join(', ')}.`,
    );
  }
  const rateLimit = positiveNumber(
    ContextKey.throttlingRateLimit,
    node.tryGetContext(ContextKey.throttlingRateLimit),
    DEFAULT_CONFIG.throttling.rateLimit,
  );
  const burstLimit = positiveNumber(
    ContextKey.throttlingBurstLimit,
    node.tryGetContext(ContextKey.throttlingBurstLimit),
    DEFAULT_CONFIG.throttling.burstLimit,
  );
  if (!Number.isInteger(burstLimit)) {
    throw new ConfigError(`Context ${ContextKey.throttlingBurstLimit} must be a whole number.`);
  }
  return {
    stageName,
    logRetention: retention as RetentionDays,
    throttling: { rateLimit, burstLimit },
    orchestrator: readOrchestratorSettings(node),
    retentionDays: wholeDays(node, ContextKey.retentionDays, DEFAULT_CONFIG.retentionDays),
    ...readOidcSettings(node),
    logLevel: readLogLevel(node),
    alarms: readAlarmSettings(node),
    executionCellIndexes: readExecutionCellIndexes(node),
    capacity: {
      workerReservedConcurrency: reservedConcurrency(
        node,
        ContextKey.workerReservedConcurrency,
        DEFAULT_CONFIG.capacity.workerReservedConcurrency,
      ),
      authorizerReservedConcurrency: reservedConcurrency(
        node,
        ContextKey.authorizerReservedConcurrency,
        DEFAULT_CONFIG.capacity.authorizerReservedConcurrency,
      ),
    },
  };
}

// 0 means no reservation, not CloudFormation's 0 (which would throttle every invocation).
function reservedConcurrency(node: Node, key: string, fallback: number | undefined): number | undefined {
  const value = node.tryGetContext(key);
  if (value === undefined) return fallback;
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 0) {
    throw new ConfigError(`Context ${key} must be a whole number ≥ 0 (0: no reservation).`);
  }
  return parsed === 0 ? undefined : parsed;
}

// A stage of the upgrade keeps at least one cell index: with none the template is the older version's.
function readExecutionCellIndexes(node: Node): number {
  const key = ContextKey.executionCellIndexes;
  const value = positiveNumber(key, node.tryGetContext(key), DEFAULT_CONFIG.executionCellIndexes);
  if (!Number.isInteger(value) || value > EXECUTION_CELL_INDEXES.length) {
    throw new ConfigError(
      `Context ${key} must be a whole number from 1 to ${EXECUTION_CELL_INDEXES.length}.`,
    );
  }
  return value;
}

function wholeDays(node: Node, key: string, fallback: number): number {
  const value = positiveNumber(key, node.tryGetContext(key), fallback);
  if (!Number.isInteger(value)) throw new ConfigError(`Context ${key} must be a whole number of days.`);
  return value;
}

function readOidcSettings(node: Node): { oidc?: OidcSettings } {
  const raw = Object.fromEntries(
    Object.entries(OIDC_CONTEXT_KEYS).map(([setting, key]) => [setting, node.tryGetContext(key)]),
  );
  try {
    // A deployed function cannot reach a loopback issuer: https only.
    const oidc = parseOidcSettings(raw, { names: OIDC_CONTEXT_KEYS, allowLoopbackHttp: false });
    return oidc ? { oidc } : {};
  } catch (error) {
    if (error instanceof OidcSettingsError)
      throw new ConfigError(`Context ${error.message}`, { cause: error });
    throw error;
  }
}

function readLogLevel(node: Node): FunctionLogLevel {
  const value = node.tryGetContext(ContextKey.logLevel) ?? DEFAULT_CONFIG.logLevel;
  const levels: readonly unknown[] = Object.values(FunctionLogLevel);
  if (!levels.includes(value)) {
    throw new ConfigError(`Context ${ContextKey.logLevel} must be one of ${levels.join(', ')}.`);
  }
  return value as FunctionLogLevel;
}

// Deliberately loose (one @, a dot in the domain): SNS and the confirmation mail are the real check.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function readAlarmSettings(node: Node): AlarmSettings {
  const email = node.tryGetContext(ContextKey.alarmEmail);
  if (email !== undefined && (typeof email !== 'string' || !EMAIL.test(email))) {
    throw new ConfigError(`Context ${ContextKey.alarmEmail} must be an email address.`);
  }
  const oldestTaskAgeSeconds = wholeSeconds(
    node,
    ContextKey.oldestTaskAgeAlarmSeconds,
    DEFAULT_CONFIG.alarms.oldestTaskAgeSeconds,
  );
  const api5xxPercent = positiveNumber(
    ContextKey.api5xxAlarmPercent,
    node.tryGetContext(ContextKey.api5xxAlarmPercent),
    DEFAULT_CONFIG.alarms.api5xxPercent,
  );
  if (api5xxPercent > 100) throw new ConfigError(`Context ${ContextKey.api5xxAlarmPercent} is a percentage.`);
  return { email, oldestTaskAgeSeconds, api5xxPercent };
}

// The functions read both as whole seconds (`settingsFromEnv`): refuse here what they would refuse there.
function wholeSeconds(node: Node, key: string, fallback: number): number {
  const value = positiveNumber(key, node.tryGetContext(key), fallback);
  if (!Number.isInteger(value)) throw new ConfigError(`Context ${key} must be a whole number of seconds.`);
  return value;
}

function readOrchestratorSettings(node: Node): OrchestratorSettings {
  const waitSeconds = wholeSeconds(
    node,
    ContextKey.orchestratorWaitSeconds,
    DEFAULT_CONFIG.orchestrator.waitSeconds,
  );
  const heartbeatTimeoutSeconds = wholeSeconds(
    node,
    ContextKey.stepHeartbeatTimeoutSeconds,
    DEFAULT_CONFIG.orchestrator.heartbeatTimeoutSeconds,
  );
  if (heartbeatTimeoutSeconds < MIN_STEP_HEARTBEAT_TIMEOUT_SECONDS) {
    throw new ConfigError(
      `Context ${ContextKey.stepHeartbeatTimeoutSeconds} must be at least ${MIN_STEP_HEARTBEAT_TIMEOUT_SECONDS} s: ` +
        'the reconciler keeps unclaimed tasks alive with a heartbeat once a minute.',
    );
  }
  const queueTimeoutSeconds = wholeSeconds(
    node,
    ContextKey.stepQueueTimeoutSeconds,
    DEFAULT_CONFIG.orchestrator.queueTimeoutSeconds,
  );
  return { waitSeconds, heartbeatTimeoutSeconds, queueTimeoutSeconds };
}
