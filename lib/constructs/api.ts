import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  type CfnAuthorizer,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  RequestAuthorizer,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { TABLE_ENV, type TableKey } from '../../core/adapters/dynamodb/tables.js';
import {
  GATEWAY_RESPONSES,
  type GatewayResponseDefinition,
  gatewayBodyTemplate,
  gatewayStatus,
} from '../../core/api/gateway-responses.js';
import { API_BASE_PATH, HandlerGroup, ROUTES, type RouteDefinition } from '../../core/api/routes.js';
import { SERVICE_NAME, type StageThrottling } from '../config.js';

export interface ServiceApiProps {
  /** The service's tables by key; each function is granted only the tables its routes touch. */
  readonly tables: Record<TableKey, ITableV2>;
  /** API Gateway stage name, e.g. `prod`. */
  readonly stageName: string;
  /** Retention of the functions' logs and of the API access log. */
  readonly logRetention: RetentionDays;
  /** Stage-wide throttling; beyond it API Gateway answers the THROTTLED gateway response (429). */
  readonly throttling: StageThrottling;
}

/** What a handler group may do in DynamoDB. Read-write includes reads; both include the indexes. */
interface TableAccess {
  readonly readWrite: readonly TableKey[];
  readonly read: readonly TableKey[];
}

/**
 * Least privilege per function, from what its domain code does: creating and running schedules
 * writes the execution, its steps and the counters in one transaction; cancelling rewrites the
 * execution and its steps; API keys touch only their own table; meta reads no data at all.
 */
const HANDLER_ACCESS: Record<HandlerGroup, TableAccess> = {
  [HandlerGroup.schedules]: {
    readWrite: ['schedules', 'executions', 'executionSteps', 'counters'],
    read: [],
  },
  // Listing reads the counters; cancelling rewrites the execution and its steps.
  [HandlerGroup.executions]: { readWrite: ['executions', 'executionSteps'], read: ['counters'] },
  [HandlerGroup.apiKeys]: { readWrite: ['apiKeys'], read: [] },
  [HandlerGroup.meta]: { readWrite: [], read: [] },
};

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  // Prefer packages' ESM builds: smaller bundles, and tree shaking works on them.
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies still call `require` for Node built-ins; ESM has none.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  minify: true,
  sourceMap: true,
  // Mapped stack traces need file and line only; leaving the sources out halves the artefact.
  sourcesContent: false,
  // Bundle the AWS SDK too (the default leaves it to the runtime's copy): the functions then run
  // the exact SDK version the tests ran against, not whatever the runtime ships that month.
  externalModules: [],
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
  public readonly functions: Record<HandlerGroup, NodejsFunction>;
  /** The function behind the REQUEST authorizer. */
  public readonly authorizerFunction: NodejsFunction;
  /** The authorizer in front of every route that names a role. */
  public readonly authorizer: RequestAuthorizer;
  /** Base URL of the API, ending in {@link API_BASE_PATH}. */
  public readonly url: string;

  private readonly logRetention: RetentionDays;
  private readonly tableEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: ServiceApiProps) {
    super(scope, id);
    this.logRetention = props.logRetention;
    // Every function that touches data gets every table name: `tableNamesFromEnv` builds all the
    // stores at once. Names are not access; the grants below decide what each may do.
    this.tableEnvironment = Object.fromEntries(
      (Object.entries(props.tables) as [TableKey, ITableV2][]).map(([key, table]) => [
        TABLE_ENV[key],
        table.tableName,
      ]),
    );

    this.functions = Object.fromEntries(
      Object.values(HandlerGroup).map((group) => [group, this.handlerFunction(group, props.tables)]),
    ) as Record<HandlerGroup, NodejsFunction>;

    this.authorizerFunction = this.createFunction('AuthorizerFunction', 'authorizer', this.tableEnvironment);
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
  }

  private handlerFunction(group: HandlerGroup, tables: Record<TableKey, ITableV2>): NodejsFunction {
    const access = HANDLER_ACCESS[group];
    const usesData = access.readWrite.length > 0 || access.read.length > 0;
    const fn = this.createFunction(
      `${pascalCase(group)}Function`,
      group,
      usesData ? this.tableEnvironment : {},
    );
    for (const key of access.readWrite) tables[key].grantReadWriteData(fn);
    for (const key of access.read) tables[key].grantReadData(fn);
    return fn;
  }

  /** A function bundled from `functions/<file>.ts`, with its own log group. */
  private createFunction(id: string, file: string, environment: Record<string, string>): NodejsFunction {
    return new NodejsFunction(this, id, {
      entry: join(ROOT, 'functions', `${file}.ts`),
      handler: 'handler',
      runtime: Runtime.NODEJS_24_X,
      // Graviton: cheaper per GB-second than x86, and nothing here is native code.
      architecture: Architecture.ARM_64,
      // CPU scales with memory; module initialisation (SDK, zod schemas) is CPU-bound, and it sits
      // on the request path at every cold start.
      memorySize: 512,
      // Well inside API Gateway's 29 s integration limit, so a stuck call ends as our 5xx, not its.
      timeout: Duration.seconds(10),
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      bundling: BUNDLING,
      // An explicit log group, so its retention is set here instead of "never expire".
      logGroup: new LogGroup(this, `${id}Logs`, { retention: this.logRetention }),
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        NODE_OPTIONS: '--enable-source-maps',
        ...environment,
      },
    });
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
      resource.addMethod(
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
