import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, type ParamsAndSecretsLayerVersion, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { TABLE_ENV, type TableKey } from '../../core/adapters/dynamodb/tables.js';
import { WORKFLOW_ENV } from '../../core/environment.js';
import type { OrchestratorSettings } from '../../core/services/orchestrator.js';
import { type FunctionLogLevel, SERVICE_NAME } from '../config.js';
import { acknowledgeGrantWildcards, acknowledgeNag } from '../nag.js';

/**
 * What every function that builds the services (`getServices`) needs: every table name (the stores
 * are built all at once; names are not access, the grants decide that), the state machine ARN, the
 * orchestrator settings and the retention of finished executions.
 */
export function serviceEnvironment(
  tables: Readonly<Record<TableKey, ITableV2>>,
  stateMachineArn: string,
  settings: OrchestratorSettings,
  retentionDays: number,
): Record<string, string> {
  return {
    ...Object.fromEntries(
      (Object.entries(tables) as [TableKey, ITableV2][]).map(([key, table]) => [
        TABLE_ENV[key],
        table.tableName,
      ]),
    ),
    [WORKFLOW_ENV.stateMachineArn]: stateMachineArn,
    [WORKFLOW_ENV.waitSeconds]: String(settings.waitSeconds),
    [WORKFLOW_ENV.heartbeatTimeoutSeconds]: String(settings.heartbeatTimeoutSeconds),
    [WORKFLOW_ENV.queueTimeoutSeconds]: String(settings.queueTimeoutSeconds),
    [WORKFLOW_ENV.retentionSeconds]: String(retentionDays * 86_400),
  };
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  // Prefer packages' ESM builds: smaller bundles, and tree shaking works on them.
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies still call `require` for Node built-ins; ESM has none.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  minify: true,
  // No source map: it was 1.5 MB of each 2.6 MB asset (more than half of the zip Lambda fetches at a
  // cold start) for stack traces that point into the minified file. Errors are classes with a name and
  // a message, which is what the logs carry; a stack can be mapped offline by synthesizing the same
  // commit with `sourceMap: true`. Measured by `BENCH_ONLY=bundles npm run bench`.
  sourceMap: false,
  // Bundle the AWS SDK too (the default leaves it to the runtime's copy): the functions then run
  // the exact SDK version the tests ran against, not whatever the runtime ships that month.
  externalModules: [],
};

export interface ServiceFunctionProps {
  /** The entry point, `functions/<file>.ts`; it exports `handler`. */
  readonly file: string;
  /** Variables besides the service name and log level, e.g. {@link serviceEnvironment}. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Retention of the function's own log group. */
  readonly logRetention: RetentionDays;
  /** `POWERTOOLS_LOG_LEVEL`: what the function's Logger writes. */
  readonly logLevel: FunctionLogLevel;
  /** How long one invocation may run. */
  readonly timeout: Duration;
  /** Shown in the console next to the generated name. */
  readonly description?: string;
  /**
   * Retries of a failed asynchronous invocation (EventBridge targets).
   *
   * @default 2 (Lambda's default)
   */
  readonly retryAttempts?: number;
  /**
   * Memory, and with it CPU.
   *
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * The AWS Parameters and Secrets Lambda Extension, for functions that read a secret.
   *
   * @default none
   */
  readonly paramsAndSecrets?: ParamsAndSecretsLayerVersion;
  /**
   * Concurrency set aside for the function, and its cap (see `CapacitySettings`).
   *
   * @default none: the account's unreserved pool
   */
  readonly reservedConcurrentExecutions?: number | undefined;
}

/**
 * One of the service's functions: bundled by esbuild from `functions/<file>.ts` into one ESM file,
 * Node 24 on Graviton, with its own log group. The log group is a sibling named `<id>Logs`, so the
 * logical ids stay what they were when each construct built its functions itself.
 */
export class ServiceFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    // An explicit log group, so its retention is set here instead of "never expire".
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: props.logRetention });
    super(scope, id, {
      entry: join(ROOT, 'functions', `${props.file}.ts`),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      // Graviton: cheaper per GB-second than x86, and nothing here is native code.
      architecture: Architecture.ARM_64,
      // CPU scales with memory; module initialisation (SDK, zod schemas) is CPU-bound, and it sits
      // on the request path at every cold start.
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      retryAttempts: props.retryAttempts,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      bundling: BUNDLING,
      paramsAndSecrets: props.paramsAndSecrets,
      logGroup,
      // Active X-Ray tracing: each invocation is a segment, joined to the API stage's and the state
      // machine's traces; the Powertools Tracer (functions/tracer.ts) adds every SDK call inside.
      tracing: Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        ...props.environment,
      },
    });
    acknowledgeNag(
      this,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup, CreateLogStream and PutLogEvents, ' +
        'which every function needs to write its log group; AWS maintains it as the Lambda baseline.',
    );
    acknowledgeNag(
      this,
      'IAM5[Resource::*]',
      'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
        'permissions (the Service Authorization Reference lists none), so IAM only accepts "*".',
    );
  }

  /**
   * Grants read or read-write access to a table's items and its indexes. CDK's table grants name the
   * indexes `<table ARN>/index/*`: the IAM form of "every GSI of this table", which the stores query.
   */
  grantData(table: ITableV2, access: 'read' | 'readWrite'): void {
    const grant = access === 'readWrite' ? table.grantReadWriteData(this) : table.grantReadData(this);
    acknowledgeGrantWildcards(
      this,
      grant,
      'Table grant: <table ARN>/index/* names the indexes of that one table (defined in TABLES), ' +
        'which the stores query; actions are the item-level read/write set of CDK, none wildcarded.',
    );
  }
}
