import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import { TABLE_ENV, type TableKey, type TableNames } from '../core/adapters/dynamodb/tables.js';
import { EventBridgePublisher } from '../core/adapters/eventbridge/publisher.js';
import { readSecretVersions } from '../core/adapters/secrets/secrets-extension.js';
import { SqsQueueSignals } from '../core/adapters/sqs/queue-signals.js';
import { StepFunctionsWorkflow } from '../core/adapters/stepfunctions/workflow.js';
import { oidcSettingsFromEnv } from '../core/auth/oidc-settings.js';
import { UserTokenVerifier } from '../core/auth/user-tokens.js';
import {
  PAGE_TOKEN_ENV,
  retentionFromEnv,
  SIGNAL_ENV,
  settingsFromEnv,
  WORKFLOW_ENV,
} from '../core/environment.js';
import { PageTokens } from '../core/paging.js';
import { createServices, type Services } from '../core/services/index.js';
import { logger } from './logger.js';
import { traced } from './tracer.js';

const ENV = WORKFLOW_ENV;

function required(env: NodeJS.ProcessEnv, variable: string, what: string): string {
  const value = env[variable];
  if (!value) throw new Error(`Environment variable ${variable} (${what}) is not set.`);
  return value;
}

/** Table names from the environment. */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  const names = {} as TableNames;
  for (const [table, variable] of Object.entries(TABLE_ENV) as [TableKey, string][]) {
    names[table] = required(env, variable, `the ${table} table name`);
  }
  return names;
}

let services: Services | undefined;

/** Services built once per Lambda environment (module scope outlives invocations), on first use. */
export function getServices(): Services {
  // Every SDK client is traced: each DynamoDB, Step Functions and EventBridge call is a subsegment.
  services ??= createServices(traced(createDocumentClient()), tableNamesFromEnv(), {
    workflow: new StepFunctionsWorkflow(
      required(process.env, ENV.stateMachineArn, 'the state machine ARN'),
      traced(new SFNClient({})),
    ),
    settings: settingsFromEnv(),
    retentionSeconds: retentionFromEnv(),
    events: new EventBridgePublisher(traced(new EventBridgeClient({})), process.env[ENV.eventBusName]),
    onStartFailure: (executionId, error) =>
      logger.warn('State machine not started; the reconciler will retry', { executionId, error }),
    signals: signalsFromEnv(),
    onSignalFailure: (error, task) =>
      logger.warn('Wake-up signal failed; waiting claims find the task at their next look', { task, error }),
    onDecisionFailure: (executionId, error) =>
      logger.warn('Completion sent no next move; the state machine decides it in Advance', {
        executionId,
        error,
      }),
    onFireError: (scheduleId, error) =>
      logger.error('Schedule not fired; it stays due for the next tick', { scheduleId, error }),
    // Read when a list first pages: only the functions that list have the secret (and may read it).
    pageTokens: new PageTokens(() =>
      readSecretVersions(
        required(process.env, PAGE_TOKEN_ENV.secretId, 'the secret that signs nextTokens'),
        process.env,
      ),
    ),
  });
  return services;
}

/** The wake-up queues, for the functions given their prefix (those that queue or claim tasks). */
function signalsFromEnv(): SqsQueueSignals | undefined {
  const prefix = process.env[SIGNAL_ENV.queuePrefix];
  return prefix ? new SqsQueueSignals(traced(new SQSClient({})), prefix) : undefined;
}

let userTokens: UserTokenVerifier | null | undefined;

/**
 * The Bearer-token verifier, built once per Lambda environment so the discovered key set stays
 * cached between invocations; `undefined` when OIDC is not configured.
 */
export function getUserTokens(): UserTokenVerifier | undefined {
  if (userTokens === undefined) {
    const settings = oidcSettingsFromEnv(process.env);
    userTokens = settings
      ? new UserTokenVerifier(settings, {
          onRefused: ({ cause, code, message }) =>
            cause === 'keys'
              ? logger.error('Signing keys of the OIDC issuer unavailable; Bearer tokens refused', {
                  code,
                  message,
                })
              : logger.info('Refused Bearer token', { code, message }),
        })
      : null;
  }
  return userTokens ?? undefined;
}
