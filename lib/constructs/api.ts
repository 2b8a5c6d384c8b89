import { Duration } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  type CfnAuthorizer,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestAuthorizer,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ParamsAndSecretsLayerVersion, ParamsAndSecretsVersions } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { TableKey } from '../../core/adapters/dynamodb/tables.js';
import {
  GATEWAY_RESPONSES,
  type GatewayResponseDefinition,
  gatewayBodyTemplate,
  gatewayStatus,
} from '../../core/api/gateway-responses.js';
import { API_BASE_PATH, HandlerGroup, ROUTES, type RouteDefinition } from '../../core/api/routes.js';
import { type OidcSettings, oidcEnvironment } from '../../core/auth/oidc-settings.js';
import { PAGE_TOKEN_ENV } from '../../core/environment.js';
import type { CapacitySettings, FunctionLogLevel, StageThrottling } from '../config.js';
import { CLAIMS_FUNCTION_MEMORY_MB } from '../function-memory.js';
import { acknowledgeNag } from '../nag.js';
import { ServiceFunction } from './function.js';
import { type ExecutionWorkflow, WorkflowAccess } from './workflow.js';

export interface ServiceApiProps {
  /** The service's tables by key; each function is granted only the tables its routes touch. */
  readonly tables: Record<TableKey, ITableV2>;
  /**
   * The execution state machine: the functions start, stop and answer it, and take their
   * environment ({@link ExecutionWorkflow.serviceEnvironment}) from it.
   */
  readonly workflow: ExecutionWorkflow;
  /** API Gateway stage name, e.g. `prod`. */
  readonly stageName: string;
  /** Retention of the functions' logs and of the API access log. */
  readonly logRetention: RetentionDays;
  /** `POWERTOOLS_LOG_LEVEL` of the functions. */
  readonly logLevel: FunctionLogLevel;
  /** Stage-wide throttling; beyond it API Gateway answers the THROTTLED gateway response (429). */
  readonly throttling: StageThrottling;
  /**
   * Accept `Authorization: Bearer` tokens from this OIDC issuer; only the authorizer is told.
   *
   * @default API keys only
   */
  readonly oidc?: OidcSettings;
  /** Reserved concurrency of the claims function and the authorizer. */
  readonly capacity: CapacitySettings;
}

/**
 * What a handler group may do. Tables: read-write includes reads, both include the indexes.
 * Workflow: the Step Functions calls its domain code makes, on the execution state machine only.
 */
interface HandlerAccess {
  readonly readWrite: readonly TableKey[];
  readonly read: readonly TableKey[];
  readonly workflow: readonly WorkflowAccess[];
  /** Pages with `nextToken`, so reads the secret that signs them. */
  readonly signsPageTokens?: boolean;
  /**
   * The pools' wake-up queues: a claim waits on them (`receive`); whatever queues a task sends one
   * (`send`: a completion handing its token on to the next step queues that step's task).
   */
  readonly signals?: 'send' | 'receive';
}

/**
 * Least privilege per function, from what its domain code does: creating and running schedules
 * writes the execution, its steps, the counters and an idempotency key's claim in one transaction
 * and starts the state machine (CancelOther stops the one it replaces); cancelling rewrites the
 * execution and its steps and stops the state machine; an execution that ends or resumes wakes the
 * state machine parked on it or behind it (SendTaskSuccess on its park token); workers claim and
 * complete tasks, which moves their steps, and answer the state machine's task tokens, a single
 * step's completion with the next move (Orchestrator.advance: it moves the execution, so its cell
 * counters too) or by queuing the next one-step stage's task under the same token; API keys
 * touch only their own table; meta reads no data at all. Whatever changes an execution's status
 * moves its cell counters in the same transaction (cancel, a decision).
 */
const HANDLER_ACCESS: Record<HandlerGroup, HandlerAccess> = {
  [HandlerGroup.schedules]: {
    readWrite: ['schedules', 'executions', 'executionSteps', 'counters', 'idempotencyKeys'],
    read: [],
    workflow: [WorkflowAccess.start, WorkflowAccess.stop, WorkflowAccess.taskSuccess],
  },
  // Listing reads the counters; cancelling rewrites the execution, its steps and its cell counters.
  // A retry is a run of the schedule (ScheduleService.retry): it reads the schedule and records the
  // run as POST /schedules/{id}/run does (the schedule's item, an idempotency key's claim), then
  // starts the state machine (CancelOther stops the runs it supersedes).
  [HandlerGroup.executions]: {
    readWrite: ['executions', 'executionSteps', 'counters', 'schedules', 'idempotencyKeys'],
    // GET of an execution reads its running steps' progress from their tasks (one BatchGetItem).
    read: ['workerTasks'],
    workflow: [WorkflowAccess.start, WorkflowAccess.stop, WorkflowAccess.taskSuccess],
    signsPageTokens: true,
  },
  [HandlerGroup.apiKeys]: { readWrite: ['apiKeys'], read: [], workflow: [] },
  [HandlerGroup.meta]: { readWrite: [], read: [], workflow: [] },
  // A claim moves its tasks and their steps and records the worker; it answers no task token.
  [HandlerGroup.claims]: {
    readWrite: ['workerTasks', 'executionSteps', 'workers'],
    read: ['executions'],
    workflow: [],
    signals: 'receive',
  },
  [HandlerGroup.worker]: {
    // The workers table is its own: heartbeats write it (and claims), GET /workers reads it. A
    // completion's decision moves the execution (stage, end) and its counters, as Advance does.
    // A completion that hands its token on queues the next step's task, and signals its pool.
    readWrite: ['workerTasks', 'executionSteps', 'workers', 'executions', 'counters'],
    read: [],
    workflow: [WorkflowAccess.taskSuccess, WorkflowAccess.taskHeartbeat],
    signals: 'send',
  },
};

/**
 * Well inside API Gateway's 29 s integration limit, so a stuck call ends as our 5xx, not its 504.
 * The worker's claim long-polls for up to 20 s (`ClaimInput.waitSeconds`), so it gets 28 s.
 */
const API_TIMEOUT = Duration.seconds(10);
const HANDLER_TIMEOUT: Partial<Record<HandlerGroup, Duration>> = {
  [HandlerGroup.claims]: Duration.seconds(28),
};

/** Memory of the functions that differ from the default (see {@link CLAIMS_FUNCTION_MEMORY_MB}). */
const HANDLER_MEMORY: Partial<Record<HandlerGroup, number>> = {
  [HandlerGroup.claims]: CLAIMS_FUNCTION_MEMORY_MB,
};

const pascalCase = (value: string): string =>
  value
    .toLowerCase()
    .split(/[-_]/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

/** API Gateway takes a static header value as a quoted string literal: `'1'`, not `1`. */
const quotedHeaders = (headers?: Readonly<Record<string, string>>): Record<string, string> | undefined =>
  headers && Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, `'${value}'`]));

/**
 * The HTTP API: one Lambda function per handler group, a REQUEST authorizer, the REST API built
 * route by route from {@link ROUTES}, and the contract's error body on API Gateway's own answers
 * ({@link GATEWAY_RESPONSES}).
 */
export class ServiceApi extends Construct {
  /** The REST API. */
  public readonly api: RestApi;
  /** The function serving each handler group. */
  public readonly functions: Record<HandlerGroup, ServiceFunction>;
  /** The function behind the REQUEST authorizer. */
  public readonly authorizerFunction: ServiceFunction;
  /** The authorizer in front of every route that names a role. */
  public readonly authorizer: RequestAuthorizer;
  /** Base URL of the API, ending in {@link API_BASE_PATH}. */
  public readonly url: string;
  /** The key that signs `nextToken`s; only the functions that page with them may read it. */
  public readonly pageTokenKey: Secret;

  constructor(scope: Construct, id: string, props: ServiceApiProps) {
    super(scope, id);

    // Generated by Secrets Manager itself, so the value never appears in the template or a log.
    this.pageTokenKey = new Secret(this, 'PageTokenKey', {
      description: 'Signs the nextToken cursors of the schedule service API (HMAC-SHA256)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    acknowledgeNag(
      this.pageTokenKey,
      'SMG4',
      'Rotated by hand (put-secret-value), not by a rotation Lambda: a new value becomes AWSCURRENT and ' +
        'the old one AWSPREVIOUS, which the functions still accept, so tokens in flight keep working.',
    );

    this.functions = Object.fromEntries(
      Object.values(HandlerGroup).map((group) => [group, this.handlerFunction(group, props)]),
    ) as Record<HandlerGroup, ServiceFunction>;

    // It builds the services too (`getServices`), so it gets their whole environment; its grant is
    // what keeps it to one table and one action. It fetches the issuer's keys over the internet
    // (no VPC), so OIDC needs no permission.
    this.authorizerFunction = new ServiceFunction(this, 'AuthorizerFunction', {
      file: 'authorizer',
      environment: {
        ...props.workflow.serviceEnvironment,
        ...(props.oidc ? oidcEnvironment(props.oidc) : {}),
      },
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      timeout: API_TIMEOUT,
      reservedConcurrentExecutions: props.capacity.authorizerReservedConcurrency,
    });
    // Only the point read by key hash that `authenticate` does: not Query, not the indexes, no writes.
    this.authorizerFunction.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [props.tables.apiKeys.tableArn] }),
    );
    this.authorizer = new RequestAuthorizer(this, 'Authorizer', {
      handler: this.authorizerFunction,
      // No caching: a revoked key must stop working on its next request, not minutes later.
      resultsCacheTtl: Duration.seconds(0),
      // No identity sources. API Gateway answers 401 without calling the authorizer when a listed
      // source is missing, so listing X-Api-Key would refuse callers that send only
      // `Authorization: Bearer` (and vice versa); the function reads the headers itself. CDK
      // accepts an empty list only with caching off (it throws otherwise), which is what we want.
      identitySources: [],
    });
    // CDK renders the empty list as `IdentitySource: ""`. CloudFormation and API Gateway document
    // the property as optional when caching is off; leave it out rather than rely on how the
    // service treats an empty string (undocumented).
    (this.authorizer.node.defaultChild as CfnAuthorizer).addPropertyDeletionOverride('IdentitySource');

    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.api = new RestApi(this, 'RestApi', {
      description: 'Schedule execution service API',
      endpointTypes: [EndpointType.REGIONAL],
      // Access logging needs API Gateway's account-level CloudWatch role; without it the stage
      // fails to deploy in an account where nothing else has set one.
      cloudWatchRole: true,
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttling.rateLimit,
        throttlingBurstLimit: props.throttling.burstLimit,
        // Execution logs of errors only (no request or response bodies: they carry API keys and
        // tokens); X-Ray traces follow a request from the stage through the authorizer and handler.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            ip: AccessLogField.contextIdentitySourceIp(),
            requestTime: AccessLogField.contextRequestTimeEpoch(),
            method: AccessLogField.contextHttpMethod(),
            resource: AccessLogField.contextResourcePath(),
            path: AccessLogField.contextPath(),
            status: AccessLogField.contextStatus(),
            responseLength: AccessLogField.contextResponseLength(),
            latency: AccessLogField.contextResponseLatency(),
            integrationLatency: AccessLogField.contextIntegrationLatency(),
            principalId: AccessLogField.contextAuthorizerPrincipalId(),
            authorizerError: AccessLogField.contextAuthorizerError(),
            errorType: AccessLogField.contextErrorResponseType(),
          }),
        ),
      },
    });

    this.addRoutes();
    this.addGatewayResponses();
    this.url = this.api.urlForPath(API_BASE_PATH);

    acknowledgeNag(
      this.api,
      'APIG2',
      'Every handler validates its path, query and body with the zod schemas the OpenAPI document is ' +
        'generated from, and answers the contract error body; API Gateway models would be a second copy.',
    );
    acknowledgeNag(
      this.api.deploymentStage,
      'APIG3',
      'No WAF web ACL: every route but /health and /openapi.json is behind the authorizer, and stage ' +
        'throttling answers floods with 429; an operator can associate a web ACL without a stack change.',
    );
    acknowledgeNag(
      this.api,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The account-level role API Gateway needs to write execution and access logs; this AWS managed ' +
        'policy is the one the API Gateway documentation prescribes for it.',
    );
  }

  private handlerFunction(group: HandlerGroup, props: ServiceApiProps): ServiceFunction {
    const access = HANDLER_ACCESS[group];
    // Every group but meta builds the services, which read their whole environment at first use.
    const buildsServices = access.readWrite.length > 0 || access.read.length > 0;
    const fn = new ServiceFunction(this, `${pascalCase(group)}Function`, {
      file: group,
      environment: {
        ...(buildsServices ? props.workflow.serviceEnvironment : {}),
        ...(access.signsPageTokens ? { [PAGE_TOKEN_ENV.secretId]: this.pageTokenKey.secretArn } : {}),
      },
      ...(access.signsPageTokens
        ? { paramsAndSecrets: ParamsAndSecretsLayerVersion.fromVersion(ParamsAndSecretsVersions.V1_0_103) }
        : {}),
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      timeout: HANDLER_TIMEOUT[group] ?? API_TIMEOUT,
      memorySize: HANDLER_MEMORY[group],
      reservedConcurrentExecutions:
        group === HandlerGroup.claims ? props.capacity.workerReservedConcurrency : undefined,
    });
    for (const key of access.readWrite) fn.grantData(props.tables[key], 'readWrite');
    for (const key of access.read) fn.grantData(props.tables[key], 'read');
    if (access.workflow.length > 0) props.workflow.grant(fn, access.workflow);
    if (access.signsPageTokens) this.pageTokenKey.grantRead(fn);
    if (access.signals) props.workflow.grantClaimSignals(fn, access.signals);
    return fn;
  }

  /** One method per route, on resources `/api/v1/...`, so the proxy event's `resource` names the route. */
  private addRoutes(): void {
    const integrations = Object.fromEntries(
      Object.entries(this.functions).map(([group, fn]) => [
        group,
        // No console test-invoke permission: half the resource-policy statements per function.
        new LambdaIntegration(fn, { allowTestInvoke: false }),
      ]),
    ) as Record<HandlerGroup, LambdaIntegration>;
    for (const route of ROUTES as readonly RouteDefinition[]) {
      const resource = this.api.root.resourceForPath(`${API_BASE_PATH}${route.path}`);
      const method = resource.addMethod(
        route.method,
        integrations[route.group],
        route.role
          ? {
              operationName: route.operationId,
              authorizer: this.authorizer,
              authorizationType: AuthorizationType.CUSTOM,
            }
          : { operationName: route.operationId, authorizationType: AuthorizationType.NONE },
      );
      acknowledgeNag(
        method,
        'COG4',
        'Callers are workers and scripts with API keys or OIDC bearer tokens, checked by the Lambda ' +
          'REQUEST authorizer; there is no Cognito user pool.',
      );
      if (!route.role) {
        acknowledgeNag(
          method,
          'APIG4',
          `${route.path} is public on purpose (health check, API description); it reads no data.`,
        );
      }
    }
  }

  private addGatewayResponses(): void {
    for (const response of GATEWAY_RESPONSES as readonly GatewayResponseDefinition[]) {
      this.api.addGatewayResponse(`${pascalCase(response.type)}Response`, {
        type: ResponseType.of(response.type),
        statusCode: String(gatewayStatus(response)),
        templates: { 'application/json': gatewayBodyTemplate(response) },
        responseHeaders: quotedHeaders(response.headers),
      });
    }
  }
}
