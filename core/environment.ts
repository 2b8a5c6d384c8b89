import { DEFAULT_ORCHESTRATOR_SETTINGS, type OrchestratorSettings } from './services/orchestrator.js';

/**
 * Names of the environment variables (besides the table names in `TABLE_ENV`) through which the
 * stack, or the local runtime, tells every function where the state machine is and how it is tuned.
 */
export const WORKFLOW_ENV = {
  stateMachineArn: 'STATE_MACHINE_ARN',
  waitSeconds: 'ORCHESTRATOR_WAIT_SECONDS',
  heartbeatTimeoutSeconds: 'STEP_HEARTBEAT_TIMEOUT_SECONDS',
  queueTimeoutSeconds: 'STEP_QUEUE_TIMEOUT_SECONDS',
  /** How long a finished execution (and its steps) is kept before DynamoDB's TTL removes it. */
  retentionSeconds: 'EXECUTION_RETENTION_SECONDS',
  /** The EventBridge bus status events go to; the account's default bus when unset. */
  eventBusName: 'EVENT_BUS_NAME',
} as const;

/**
 * The prefix of the wake-up queues of waiting claims (one SQS queue per pool, see SqsQueueSignals),
 * in every function's environment like the table names (only the grants give access); without it
 * claims look at the table only.
 */
export const SIGNAL_ENV = { queuePrefix: 'CLAIM_SIGNAL_QUEUE_PREFIX' } as const;

/**
 * A whole number of seconds ≥ 1 from `variable`, or `fallback` when it is unset. The functions and the local
 * runtime (`npm start`) read the tuning of the workflow through these, so both refuse the same values.
 */
function seconds<T extends number | undefined>(env: NodeJS.ProcessEnv, variable: string, fallback: T) {
  if (env[variable] === undefined) return fallback;
  const value = Number(env[variable]);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${variable} must be a whole number of seconds ≥ 1.`);
  return value;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): OrchestratorSettings {
  return {
    waitSeconds: seconds(env, WORKFLOW_ENV.waitSeconds, DEFAULT_ORCHESTRATOR_SETTINGS.waitSeconds),
    heartbeatTimeoutSeconds: seconds(
      env,
      WORKFLOW_ENV.heartbeatTimeoutSeconds,
      DEFAULT_ORCHESTRATOR_SETTINGS.heartbeatTimeoutSeconds,
    ),
    queueTimeoutSeconds: seconds(
      env,
      WORKFLOW_ENV.queueTimeoutSeconds,
      DEFAULT_ORCHESTRATOR_SETTINGS.queueTimeoutSeconds,
    ),
  };
}

/** How long finished executions are kept; undefined (the services' default) when unset. */
export const retentionFromEnv = (env: NodeJS.ProcessEnv = process.env): number | undefined =>
  seconds(env, WORKFLOW_ENV.retentionSeconds, undefined);

/**
 * Names of the environment variables that turn on `Authorization: Bearer` sign-in (OIDC) in the
 * authorizer: set by the stack from CDK context, and by `npm start` from the same names. OIDC is off
 * when `OIDC_ISSUER` is unset.
 */
export const OIDC_ENV = {
  issuer: 'OIDC_ISSUER',
  audience: 'OIDC_AUDIENCE',
  rolesClaim: 'OIDC_ROLES_CLAIM',
  jwksUri: 'OIDC_JWKS_URI',
  clientIds: 'OIDC_CLIENT_IDS',
} as const;

/**
 * Where the functions that list find the key that signs `nextToken`s: a Secrets Manager secret, read
 * through the AWS Parameters and Secrets Lambda Extension, which listens on localhost at
 * `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` (its own variable; 2773 unless set).
 */
export const PAGE_TOKEN_ENV = {
  secretId: 'PAGE_TOKEN_SECRET_ID',
  extensionPort: 'PARAMETERS_SECRETS_EXTENSION_HTTP_PORT',
} as const;
