import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  EXECUTION_CELL_INDEXES,
  TABLE_ENV,
  TABLES,
  type TableDefinition,
  type TableKey,
} from '../../core/adapters/dynamodb/tables.js';
import {
  GATEWAY_RESPONSES,
  type GatewayResponseDefinition,
  gatewayBodyTemplate,
  gatewayStatus,
} from '../../core/api/gateway-responses.js';
import { API_BASE_PATH, type HandlerGroup, ROUTES, type RouteDefinition } from '../../core/api/routes.js';
import { OIDC_ENV } from '../../core/environment.js';
import { ConfigError, DEFAULT_CONFIG, readConfig } from '../../lib/config.js';
import { CLAIMS_FUNCTION_MEMORY_MB } from '../../lib/function-memory.js';
import { actions, newApp, queriesIndexesOf, type Resource, type Statement, synth } from './template.js';

const { stack, template, resources, logicalId, ofType, functions, tableIds, roleStatements, tableAccess } =
  synth();

/** A key schema as the template spells it: the partition key, then the sort key when there is one. */
const keySchema = (d: { partitionKey: { name: string }; sortKey?: { name: string } }) => [
  { AttributeName: d.partitionKey.name, KeyType: 'HASH' },
  ...(d.sortKey ? [{ AttributeName: d.sortKey.name, KeyType: 'RANGE' }] : []),
];

/** A global secondary index named `name` on these keys, whatever else it declares. */
const indexOn = (name: string, partitionKey: string, sortKey: string) =>
  expect.objectContaining({
    IndexName: name,
    KeySchema: keySchema({ partitionKey: { name: partitionKey }, sortKey: { name: sortKey } }),
  });

/** readConfig refuses each `[key, value]` of the CDK context with a ConfigError. */
const refusesEach = (cases: [string, unknown][]) =>
  it.each(cases)('refuses %s=%s', (key, value) => {
    expect(() => readConfig(newApp({ [key]: value }).node)).toThrow(ConfigError);
  });

describe('DataTables', () => {
  const definitions = Object.entries(TABLES) as [TableKey, TableDefinition][];

  it.each(definitions)(
    'builds the %s table on demand, with PITR, encryption, retention and its keys',
    (key, d) => {
      const table = resources[tableIds[key]] as Resource;
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.KeySchema).toEqual(keySchema(d));
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
      expect(table.Properties.Replicas).toEqual([
        expect.objectContaining({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ]);
      expect(table.Properties.TimeToLiveSpecification).toEqual(
        d.timeToLiveAttribute ? { AttributeName: d.timeToLiveAttribute, Enabled: true } : undefined,
      );
    },
  );

  it.each(definitions)('gives the %s table exactly the indexes of TABLES', (key, d) => {
    const indexes = (resources[tableIds[key]] as Resource).Properties.GlobalSecondaryIndexes ?? [];
    expect(indexes).toEqual(
      d.indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index),
        Projection: { ProjectionType: index.projection },
      })),
    );
  });
});

describe('the workers of GET /workers', () => {
  it('keeps them in a table of their own, expiring by TTL, with no index (listed by a Scan)', () => {
    const table = resources[tableIds.workers] as Resource;
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  it('finds the tasks a worker holds by a sparse claimed-by index on the worker tasks', () => {
    const indexes = (resources[tableIds.workerTasks] as Resource).Properties.GlobalSecondaryIndexes;
    expect(indexes).toEqual(expect.arrayContaining([indexOn('claimed-by', 'claimedWorker', 'claimedAt')]));
  });

  it('lets only the claims and worker functions, which record workers and serve GET /workers, reach the workers table', () => {
    const reaching = (Object.keys(stack.api.functions) as HandlerGroup[]).filter((group) =>
      tableAccess(stack.api.functions[group]).reach.includes('workers'),
    );
    expect(reaching).toEqual(['claims', 'worker']);
    expect(ROUTES.find((route) => route.operationId === 'listWorkers')?.group).toBe('worker');
  });
});

describe('the staged upgrade to the cell indexes', () => {
  const executionIndexes = (context: Record<string, unknown>) => {
    const staged = synth(context);
    const table = staged.resources[staged.tableIds.executions] as Resource;
    return (table.Properties.GlobalSecondaryIndexes as { IndexName: string }[]).map((i) => i.IndexName);
  };
  const full = executionIndexes({});
  // The template before this version: the Executions table without any cell index.
  const previous = full.filter((name) => !EXECUTION_CELL_INDEXES.includes(name));
  const stages = [previous, executionIndexes({ executionCellIndexes: '1' }), full];

  it('leaves one cell index out of the first stage, and none out of the default template', () => {
    expect(stages[1]).toHaveLength(full.length - 1);
    expect(full).toEqual(TABLES.executions.indexes.map((index) => index.indexName));
  });

  it('creates at most one index per table update, from the previous version to the full template', () => {
    for (const [before, after] of stages
      .slice(1)
      .map((stage, i): [string[], string[]] => [stages[i] as string[], stage])) {
      const changed = [
        ...after.filter((name) => !before.includes(name)),
        ...before.filter((name) => !after.includes(name)),
      ];
      expect(changed).toHaveLength(1);
    }
  });
});

describe('ServiceApi functions', () => {
  // aws-cdk-lib's deploy-time function (BucketDeployment) is its own: runtime, logs and role are CDK's.
  const fns = functions;
  const functionsWithData = [
    ...(['schedules', 'executions', 'api-keys', 'claims', 'worker'] as const).map(
      (g) => stack.api.functions[g],
    ),
    stack.api.authorizerFunction,
    stack.workflow.orchestratorFunction,
    stack.workflow.reconcilerFunction,
  ];

  it('runs every function on nodejs24.x, arm64, with a service name and no source maps to load', () => {
    expect(fns.length).toBeGreaterThan(0);
    for (const [, fn] of fns) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Environment.Variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'schedule-execution-service',
      });
      // The bundles ship without source maps (lib/constructs/function.ts says why).
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
    }
  });

  it('gives the claims function 128 MB (an idle worker holds it all month) and the other API handlers 512 MB', () => {
    const memory = (fn: Parameters<typeof logicalId>[0]) =>
      (resources[logicalId(fn)] as Resource).Properties.MemorySize;
    expect(memory(stack.api.functions.claims)).toBe(CLAIMS_FUNCTION_MEMORY_MB);
    expect(CLAIMS_FUNCTION_MEMORY_MB).toBe(128);
    expect(memory(stack.api.functions.worker)).toBe(512);
    expect(memory(stack.api.functions.schedules)).toBe(512);
  });

  it('sends every function to its own log group with the configured retention', () => {
    for (const [, fn] of fns) {
      const groupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
      expect(resources[groupId]?.Properties.RetentionInDays).toBe(DEFAULT_CONFIG.logRetention);
    }
  });

  it.each(functionsWithData.map((fn) => [fn.node.id, fn] as const))(
    'gives %s every table name under its TABLE_ENV variable',
    (_id, fn) => {
      const variables = (resources[logicalId(fn)] as Resource).Properties.Environment.Variables;
      for (const key of Object.keys(TABLES) as TableKey[]) {
        expect(variables[TABLE_ENV[key]]).toEqual({ Ref: tableIds[key] });
      }
    },
  );
});

describe('reserved concurrency', () => {
  /** ReservedConcurrentExecutions by function logical id, for the functions that have one. */
  const reserved = (functionsOf: typeof ofType): Record<string, number> =>
    Object.fromEntries(
      functionsOf('AWS::Lambda::Function')
        .filter(([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined)
        .map(([id, fn]) => [id, fn.Properties.ReservedConcurrentExecutions]),
    );

  it('caps the claims function and the authorizer by default, and no other function', () => {
    expect(reserved(ofType)).toEqual({
      [logicalId(stack.api.functions.claims)]: DEFAULT_CONFIG.capacity.workerReservedConcurrency,
      [logicalId(stack.api.authorizerFunction)]: DEFAULT_CONFIG.capacity.authorizerReservedConcurrency,
    });
    // Within what Lambda lets an account of the default limit (1000) reserve: it keeps 100 unreserved.
    expect(Object.values(reserved(ofType)).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(900);
  });

  it('takes the reservations from context', () => {
    const custom = synth({ workerReservedConcurrency: '12', authorizerReservedConcurrency: 30 });
    expect(reserved(custom.ofType)).toEqual({
      [custom.logicalId(custom.stack.api.functions.claims)]: 12,
      [custom.logicalId(custom.stack.api.authorizerFunction)]: 30,
    });
  });

  it('reserves nothing for 0, rather than throttling the function to 0', () => {
    expect(
      reserved(synth({ workerReservedConcurrency: 0, authorizerReservedConcurrency: '0' }).ofType),
    ).toEqual({});
  });

  refusesEach([
    ['workerReservedConcurrency', '-1'],
    ['workerReservedConcurrency', '2.5'],
    ['authorizerReservedConcurrency', 'many'],
  ]);
});

describe('IAM', () => {
  const deployTimeRole = { role: stack.console.deployment.handlerRole };
  it('lets the authorizer do nothing but GetItem on the API keys table (and send its traces)', () => {
    expect(roleStatements(stack.api.authorizerFunction)).toEqual([
      { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' },
      { Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: { 'Fn::GetAtt': [tableIds.apiKeys, 'Arn'] } },
    ]);
  });

  it('generates the nextToken key in Secrets Manager and lets only the executions function read it', () => {
    // Arrange
    const [[secretId, secret]] = ofType('AWS::SecretsManager::Secret') as [[string, Resource]];
    const readers = ofType('AWS::IAM::Policy').filter(([, policy]) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes(`"${secretId}"`),
    );
    const executions = stack.api.functions.executions;
    const variables = (resources[logicalId(executions)] as Resource).Properties.Environment.Variables;

    // Assert: generated by the service, never in the template.
    expect(secret.Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
    expect(secret.Properties).not.toHaveProperty('SecretString');
    expect(readers).toHaveLength(1);
    expect(roleStatements(executions)).toContainEqual({
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Effect: 'Allow',
      Resource: { Ref: secretId },
    });
    expect(variables).toMatchObject({
      PAGE_TOKEN_SECRET_ID: { Ref: secretId },
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: '2773',
    });
  });

  it('has no wildcard action in any policy statement of the template', () => {
    // Every statement anywhere: role policies, the topic policy, inline role policies.
    const statements: Statement[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === 'object') {
        if ('Effect' in node && 'Action' in node) statements.push(node as Statement);
        Object.values(node).forEach(collect);
      }
    };
    collect(resources);
    expect(statements.length).toBeGreaterThan(0);
    // aws-cdk-lib's deploy-time function has its own grants: checked in the next test.
    const deployTime = new Set(roleStatements(deployTimeRole).map((s) => JSON.stringify(s)));
    // Allows only: a Deny of `sqs:*` or `sns:*` over plain HTTP (enforceSSL) takes away, never grants.
    for (const statement of statements.filter((s) => s.Effect === 'Allow')) {
      if (deployTime.has(JSON.stringify(statement))) continue;
      for (const action of actions(statement)) expect(action).not.toContain('*');
    }
  });

  it("keeps the console deployment's wildcard actions to its two buckets, and only invalidates", () => {
    const statements = roleStatements(deployTimeRole);
    const bucketId = logicalId(stack.console.bucket);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const all = actions(statement);
      if (all.every((a) => a.startsWith('s3:'))) {
        for (const resource of [statement.Resource].flat()) {
          const text = JSON.stringify(resource);
          // The bootstrap asset bucket (the zipped build) or the console bucket, and nothing else.
          expect(text.includes('cdk-hnb659fds-assets-') || text.includes(`"${bucketId}"`), text).toBe(true);
        }
      } else {
        expect(all.sort()).toEqual(['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation']);
      }
    }
  });

  // What each handler's domain code needs; a new table access must be added here on purpose.
  const expected: Record<HandlerGroup, { write: TableKey[]; read: TableKey[] }> = {
    schedules: {
      write: ['schedules', 'executions', 'executionSteps', 'counters', 'idempotencyKeys'],
      read: [],
    },
    executions: {
      write: ['executions', 'executionSteps', 'counters', 'schedules', 'idempotencyKeys'],
      read: ['workerTasks'],
    },
    'api-keys': { write: ['apiKeys'], read: [] },
    meta: { write: [], read: [] },
    claims: { write: ['workerTasks', 'executionSteps', 'workers'], read: ['executions'] },
    worker: { write: ['workerTasks', 'executionSteps', 'workers', 'executions', 'counters'], read: [] },
  };

  it.each(Object.entries(expected) as [HandlerGroup, (typeof expected)[HandlerGroup]][])(
    'grants the %s function exactly its tables',
    (group, { write, read }) => {
      const access = tableAccess(stack.api.functions[group]);
      expect(access.write).toEqual([...write].sort());
      expect(access.reach).toEqual([...write, ...read].sort());
    },
  );

  it("lets only the orchestrator, the claims and the worker functions use the claims' wake-up queues, by the stack's prefix", () => {
    // Arrange
    const queues = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':sqs:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':Test-claims-*',
        ],
      ],
    };
    const sqsStatements = (fn: Parameters<typeof roleStatements>[0]) =>
      roleStatements(fn).filter((statement) =>
        actions(statement).some((action) => action.startsWith('sqs:')),
      );
    const others = [
      ...Object.entries(stack.api.functions)
        .filter(([group]) => group !== 'claims' && group !== 'worker')
        .map(([, fn]) => fn),
      stack.api.authorizerFunction,
      stack.workflow.reconcilerFunction,
      stack.cronTrigger.dispatcherFunction,
    ];

    // Assert
    expect(sqsStatements(stack.workflow.orchestratorFunction)).toEqual([
      { Action: ['sqs:CreateQueue', 'sqs:SendMessage'], Effect: 'Allow', Resource: queues },
    ]);
    // A completion that hands its token on queues the next step, as the orchestrator does.
    expect(sqsStatements(stack.api.functions.worker)).toEqual([
      { Action: ['sqs:CreateQueue', 'sqs:SendMessage'], Effect: 'Allow', Resource: queues },
    ]);
    expect(sqsStatements(stack.api.functions.claims)).toEqual([
      {
        Action: ['sqs:CreateQueue', 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'],
        Effect: 'Allow',
        Resource: queues,
      },
    ]);
    for (const fn of others) expect(sqsStatements(fn)).toEqual([]);
  });

  it('lets writers reach the indexes of their tables', () => {
    const statements = roleStatements(stack.api.functions.schedules);
    expect(queriesIndexesOf(statements, tableIds.executions)).toBe(true);
  });
});

describe('REST API', () => {
  // Full path of every API Gateway resource, walking PathPart up to the root.
  const apiResources = Object.fromEntries(ofType('AWS::ApiGateway::Resource'));
  const pathOf = (id: string): string => {
    const resource = apiResources[id];
    if (!resource) return '';
    return `${pathOf(resource.Properties.ParentId.Ref)}/${resource.Properties.PathPart}`;
  };
  const methods = ofType('AWS::ApiGateway::Method').map(
    ([, m]): Record<string, any> => ({ path: pathOf(m.Properties.ResourceId.Ref), ...m.Properties }),
  );
  const authorizerId = logicalId(stack.api.authorizer);

  it.each((ROUTES as readonly RouteDefinition[]).map((r) => [r.method, r.path, r] as const))(
    'serves %s %s with the right authorization and function',
    (method, path, route) => {
      const found = methods.filter((m) => m.HttpMethod === method && m.path === `${API_BASE_PATH}${path}`);
      expect(found).toHaveLength(1);
      const [m] = found;
      expect(m?.OperationName).toBe(route.operationId);
      if (route.role) {
        expect(m?.AuthorizationType).toBe('CUSTOM');
        expect(m?.AuthorizerId).toEqual({ Ref: authorizerId });
      } else {
        expect(m?.AuthorizationType).toBe('NONE');
        expect(m?.AuthorizerId).toBeUndefined();
      }
      expect(m?.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(m?.Integration.Uri)).toContain(
        `"${logicalId(stack.api.functions[route.group])}"`,
      );
    },
  );

  it('has no method that is not a route', () => {
    expect(methods).toHaveLength(ROUTES.length);
  });

  it('authorizes every request afresh: REQUEST type, no cache, no identity source', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: Match.absent(),
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [logicalId(stack.api.authorizerFunction), 'Arn'] },
    });
  });

  it.each((GATEWAY_RESPONSES as readonly GatewayResponseDefinition[]).map((r) => [r.type, r] as const))(
    'answers %s in the contract error format',
    (type, response) => {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: String(gatewayStatus(response)),
        ResponseTemplates: { 'application/json': gatewayBodyTemplate(response) },
        ResponseParameters: response.headers
          ? Object.fromEntries(
              Object.entries(response.headers).map(([name, value]) => [
                `gatewayresponse.header.${name}`,
                `'${value}'`,
              ]),
            )
          : Match.absent(),
      });
    },
  );

  it('throttles the stage and logs access', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: DEFAULT_CONFIG.throttling.rateLimit,
          ThrottlingBurstLimit: DEFAULT_CONFIG.throttling.burstLimit,
        }),
      ]),
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it('outputs the API URL and every table name', () => {
    const outputs = template.toJSON().Outputs as Record<string, unknown>;
    expect(JSON.stringify(outputs.ApiUrl)).toContain(API_BASE_PATH);
    for (const d of Object.values(TABLES)) expect(outputs).toHaveProperty(`${d.id}TableName`);
  });
});

describe('config', () => {
  it('takes throttling and retention from context, as strings from -c or numbers from cdk.json', () => {
    const { template: custom } = synth({
      throttlingRateLimit: '10',
      throttlingBurstLimit: 20,
      logRetentionDays: '7',
    });
    custom.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([
        Match.objectLike({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 }),
      ]),
    });
    custom.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  refusesEach([
    ['logRetentionDays', '8'],
    ['throttlingRateLimit', 'fast'],
    ['throttlingBurstLimit', '-1'],
    ['stageName', 'a/b'],
    ['alarmEmail', 'ops'],
    ['alarmEmail', 'ops@example'],
    ['alarmEmail', 42],
    ['logLevel', 'TRACE'],
    ['logLevel', 'info'],
    ['oldestTaskAgeAlarmSeconds', '1.5'],
    ['oldestTaskAgeAlarmSeconds', '0'],
    ['api5xxAlarmPercent', '150'],
    ['api5xxAlarmPercent', 'lots'],
    ['executionCellIndexes', '0'],
    ['executionCellIndexes', '3'],
    ['executionCellIndexes', '1.5'],
  ]);
});

describe('OIDC sign-in', () => {
  const oidcVariables = (variables: Record<string, unknown>) =>
    Object.keys(variables).filter((name) => Object.values(OIDC_ENV).includes(name as never));
  const functionVariables = (resourcesOf: Record<string, Resource>): [string, Record<string, unknown>][] =>
    Object.entries(resourcesOf)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id, r]) => [id, r.Properties.Environment?.Variables ?? {}]);

  it('is off by default: no function is given OIDC settings', () => {
    expect(DEFAULT_CONFIG.oidc).toBeUndefined();
    for (const [, variables] of functionVariables(resources)) expect(oidcVariables(variables)).toEqual([]);
  });

  it('gives the OIDC settings from context to the authorizer only, with the roles claim defaulted', () => {
    const configured = synth({
      oidcIssuer: 'https://login.example.com/tenant/',
      oidcAudience: 'api://schedules',
    });
    const authorizerId = configured.logicalId(configured.stack.api.authorizerFunction);

    for (const [id, variables] of functionVariables(configured.resources)) {
      if (id === authorizerId) {
        expect(variables).toMatchObject({
          OIDC_ISSUER: 'https://login.example.com/tenant/',
          OIDC_AUDIENCE: 'api://schedules',
          OIDC_ROLES_CLAIM: 'roles',
        });
        expect(variables).not.toHaveProperty('OIDC_JWKS_URI');
      } else {
        expect(oidcVariables(variables)).toEqual([]);
      }
    }
    // Fetching the issuer's keys needs no permission: the authorizer keeps its one GetItem.
    const statements = configured.roleStatements(configured.stack.api.authorizerFunction);
    expect(statements.filter((st) => !actions(st).every((a) => a.startsWith('xray:')))).toHaveLength(1);
  });

  it('passes a configured key set URL, roles claim and client ids through', () => {
    const config = readConfig(
      newApp({
        oidcIssuer: 'https://login.example.com',
        oidcAudience: 'api',
        oidcRolesClaim: 'realm_access.roles',
        oidcJwksUri: 'https://login.example.com/keys',
        oidcClientIds: 'spa,cli',
      }).node,
    );
    expect(config.oidc).toEqual({
      issuer: 'https://login.example.com',
      audience: 'api',
      rolesClaim: 'realm_access.roles',
      jwksUri: 'https://login.example.com/keys',
      clientIds: ['spa', 'cli'],
    });
  });

  it.each<[string, Record<string, unknown>]>([
    ['an http issuer', { oidcIssuer: 'http://login.example.com', oidcAudience: 'api' }],
    ['a loopback issuer', { oidcIssuer: 'http://localhost:8080', oidcAudience: 'api' }],
    ['an issuer that is no URL', { oidcIssuer: 'login.example.com', oidcAudience: 'api' }],
    ['an issuer without an audience', { oidcIssuer: 'https://login.example.com' }],
    ['an audience without an issuer', { oidcAudience: 'api' }],
    ['a roles claim without an issuer', { oidcRolesClaim: 'groups' }],
    [
      'an http key set URL',
      {
        oidcIssuer: 'https://login.example.com',
        oidcAudience: 'api',
        oidcJwksUri: 'http://keys.example.com',
      },
    ],
  ])('refuses %s', (_, context) => {
    expect(() => readConfig(newApp(context).node)).toThrow(ConfigError);
  });
});

describe('full synth', () => {
  it('bundles every handler into one self-contained ESM file and passes schema validation', () => {
    // The one synth that really runs esbuild (seconds, not milliseconds), inside the test's timeout.
    const bundled = synth({}, true);
    const fns = bundled.functions.map(([, r]) => r);
    // The handler groups, the authorizer, the orchestrator, the reconciler, the dispatcher and the change feed.
    expect(fns).toHaveLength(Object.keys(bundled.stack.api.functions).length + 5);
    for (const fn of fns) {
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      const dir = join(bundled.app.outdir, `asset.${hash}`);
      expect(fn.Properties.Handler).toBe('index.handler');
      // No source map shipped: more than half of the asset, for traces into minified code.
      expect(readdirSync(dir)).toEqual(['index.mjs']);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8').startsWith('import { createRequire }')).toBe(true);
      // Load the bundle in a plain Node, far from node_modules: any import esbuild left outside it
      // (the SDK, middy, zod, the project's own modules) fails here, as it would in Lambda.
      const url = pathToFileURL(join(dir, 'index.mjs')).href;
      const probe = `const m = await import(${JSON.stringify(url)}); process.stdout.write(typeof m.handler);`;
      const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      });
      expect(loaded).toBe('function');
    }
    // The built-in CloudFormation schema check (cfn-lint rules) found nothing, not even a warning.
    const report = JSON.parse(readFileSync(join(bundled.app.outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations)).toEqual([]);
  });
});
