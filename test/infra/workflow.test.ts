import { readFileSync } from 'node:fs';
import validateAsl from 'asl-validator';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { TABLE_ENV, type TableKey } from '../../core/adapters/dynamodb/tables.js';
import { HandlerGroup } from '../../core/api/routes.js';
import { WORKFLOW_ENV as ENV } from '../../core/environment.js';
import { ClaimInput } from '../../core/schemas/worker.js';
import {
  ConfigError,
  DEFAULT_CONFIG,
  MIN_STEP_HEARTBEAT_TIMEOUT_SECONDS,
  readConfig,
} from '../../lib/config.js';
import { DEFINITION_FILE, DefinitionPlaceholder } from '../../lib/constructs/workflow.js';
import {
  actions,
  expectInvokedByRule,
  newApp,
  queriesIndexesOf,
  type Resource,
  type Statement,
  synth,
} from './template.js';

// `Template.fromStack` (inside `synth`) already refuses a template with a dependency cycle, the
// one the orchestrator ⇄ state machine pair could close (see ExecutionWorkflow.stateMachineArn).
const { stack, template, resources, logicalId, ofType, roleStatements, tableAccess } = synth();
const { workflow, api } = stack;
const stateMachineId = logicalId(workflow.stateMachine);
const stateMachine = resources[stateMachineId] as Resource;
const orchestratorId = logicalId(workflow.orchestratorFunction);
const reconcilerId = logicalId(workflow.reconcilerFunction);
const builtArn = stack.resolve(workflow.stateMachineArn);
const functionResource = (fn: IConstruct) => resources[logicalId(fn)] as Resource;

/** `${Name}` placeholders of a definition string. */
const placeholders = (definition: string) =>
  new Set([...definition.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]));

describe('ExecutionWorkflow state machine', () => {
  it('is the ASL file, inline, with the orchestrator ARN as its only substitution', () => {
    const definition = stateMachine.Properties.DefinitionString as string;
    expect(JSON.parse(definition)).toEqual(JSON.parse(readFileSync(DEFINITION_FILE, 'utf8')));
    expect(stateMachine.Properties.DefinitionSubstitutions).toEqual({
      [DefinitionPlaceholder.orchestratorFunctionArn]: { 'Fn::GetAtt': [orchestratorId, 'Arn'] },
    });
    // Every placeholder is substituted, and every substitution is used: nothing reaches AWS as `${...}`.
    expect([...placeholders(definition)].sort()).toEqual(
      Object.keys(stateMachine.Properties.DefinitionSubstitutions),
    );
  });

  it('is a valid state machine once CloudFormation has substituted a Lambda ARN (asl-validator)', () => {
    const lambdaArn = 'arn:aws:lambda:eu-west-1:123456789012:function:orchestrator';
    const substituted = (stateMachine.Properties.DefinitionString as string).replaceAll(
      `\${${DefinitionPlaceholder.orchestratorFunctionArn}}`,
      lambdaArn,
    );
    expect(placeholders(substituted).size).toBe(0);
    const result = validateAsl(JSON.parse(substituted), { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('retries RunStep only on the invoke failing in Lambda, never on the step timing out or failing', () => {
    const definition = JSON.parse(stateMachine.Properties.DefinitionString as string);
    const runStep = definition.States.RunStage.ItemProcessor.States.RunStep;
    expect(runStep.Retry).toEqual([
      {
        ErrorEquals: [
          'Lambda.TooManyRequestsException',
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
        ],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
        JitterStrategy: 'FULL',
      },
    ]);
    // The step's own outcomes go to its Catch (StepFailed) at once.
    expect(runStep.Catch.map((c: { ErrorEquals: string[] }) => c.ErrorEquals)).toEqual([['States.ALL']]);
    expect(runStep.TimeoutSecondsPath).toBe('$.step.backstopSeconds');
  });

  it('runs a stage of one step as RunStage would, without the Map: the same task and failure handling', () => {
    const definition = JSON.parse(stateMachine.Properties.DefinitionString as string);
    const inMap = definition.States.RunStage.ItemProcessor.States;
    // The Map item is `{ executionId, step }`; without the Map the step is the decision's only one. A
    // state out of the Map has its own Comment and flow (Catch, Next); the rest must be the Map's state.
    const outsideMap = (state: unknown) => {
      const {
        Comment: _comment,
        Catch,
        Next,
        ...rest
      } = JSON.parse(JSON.stringify(state).replaceAll('$.next.steps[0].', '$.step.'));
      return { Catch, Next, rest };
    };
    const single = outsideMap(definition.States.RunSingleStep);
    const { Comment: _c2, Catch: mapCatch, End: _e1, ...runStep } = inMap.RunStep;
    // The deliberate differences: its completion carries the next decision, kept as `$.next` for
    // Route, or hands the token on within the timeout it is told (its own TimeoutSecondsPath).
    const { decidesNext, 'backstopSeconds.$': backstop, ...payload } = single.rest.Parameters.Payload;
    expect(decidesNext).toBe(true);
    expect(backstop).toBe(single.rest.TimeoutSecondsPath);
    expect(inMap.RunStep.Parameters.Payload.decidesNext).toBeUndefined();
    expect(inMap.RunStep.Parameters.Payload['backstopSeconds.$']).toBeUndefined();
    expect(single.rest.ResultPath).toBe('$.next');
    expect({
      ...single.rest,
      Parameters: { ...single.rest.Parameters, Payload: payload },
      ResultPath: runStep.ResultPath,
    }).toEqual(runStep);
    expect(single.Catch).toEqual([{ ...mapCatch[0], Next: 'SingleStepFailed' }]);
    expect(single.Next).toBe('Route');
    const failed = outsideMap(definition.States.SingleStepFailed);
    const { End: _e2, ...stepFailed } = inMap.StepFailed;
    // Its token may have been handed on: stepFailed finds the step it awaits now.
    const { handedOn, ...failedParameters } = failed.rest.Parameters;
    expect(handedOn).toBe(true);
    expect({ ...failed.rest, Parameters: failedParameters }).toEqual(stepFailed);
    // What RunStage's own Catch does for a StepFailed that keeps failing.
    expect(failed.Catch).toEqual(definition.States.RunStage.Catch);
    expect(failed.Next).toBe('Advance');
  });

  it('sends whatever has no decision to Advance before any other Route rule can read it', () => {
    const definition = JSON.parse(stateMachine.Properties.DefinitionString as string);
    // A step skipped, timed out, or completed without a decision answers RunSingleStep without an
    // action; the rules after the first compare `$.next.action`, which fails on a missing path.
    const [first, ...rest] = definition.States.Route.Choices;
    expect(first).toEqual({ Not: { Variable: '$.next.action', IsPresent: true }, Next: 'Advance' });
    expect(rest.map((rule: { Next: string }) => rule.Next)).toEqual(['RunStage', 'RunSingleStep', 'Park']);
    expect(definition.States.Route.Default).toBe('Finished');
  });

  it('is a Standard state machine with tracing and error logging that leaves execution data out', () => {
    expect(stateMachine.Properties.StateMachineType).toBe('STANDARD');
    expect(stateMachine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    const logging = stateMachine.Properties.LoggingConfiguration;
    expect(logging).toMatchObject({ Level: 'ERROR', IncludeExecutionData: false });
    const logGroupId = logging.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0] as string;
    expect(resources[logGroupId]?.Type).toBe('AWS::Logs::LogGroup');
    expect(resources[logGroupId]?.Properties.RetentionInDays).toBe(DEFAULT_CONFIG.logRetention);
  });

  it('has the fixed name its ARN is built from, so the functions are told the right ARN', () => {
    expect(stateMachine.Properties.StateMachineName).toBe('Test-Execution');
    expect(workflow.stateMachineName).toBe('Test-Execution');
    expect(builtArn).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':stateMachine:Test-Execution',
        ],
      ],
    });
  });

  it('lets its role invoke the orchestrator and nothing else', () => {
    const role = resources[logicalId(workflow.stateMachine.role)] as Resource;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: 'states.amazonaws.com' } }),
    ]);
    const statements = roleStatements(workflow.stateMachine);
    // Besides the invoke, only what CloudWatch Logs delivery and X-Ray tracing need.
    const others = statements.filter((s) => !actions(s).every((a) => /^(logs|xray):/.test(a)));
    expect(others).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [
          { 'Fn::GetAtt': [orchestratorId, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [orchestratorId, 'Arn'] }, ':*']] },
        ],
      },
    ]);
  });

  it('is output by the stack', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.StateMachineArn?.Value).toEqual({ Ref: stateMachineId });
  });
});

describe('ExecutionWorkflow reconciler', () => {
  it('runs every minute, invoking the reconciler', () => {
    const ruleId = logicalId(workflow.reconcilerSchedule);
    const rule = resources[ruleId] as Resource;
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': [reconcilerId, 'Arn'] } }),
    ]);
    expectInvokedByRule(template, reconcilerId, ruleId);
  });

  it('is not retried by Lambda: the next minute redoes a failed run', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: reconcilerId },
      MaximumRetryAttempts: 0,
    });
  });

  it('finishes well within its one-minute period', () => {
    expect(functionResource(workflow.reconcilerFunction).Properties.Timeout).toBeLessThan(60);
  });
});

describe('Step Functions permissions', () => {
  const executionsOfStateMachine = (resource: unknown) => {
    const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']?.[1];
    const text = JSON.stringify(resource);
    return (
      join?.at(-1) === ':*' &&
      text.includes('":execution:"') &&
      text.includes(JSON.stringify({ Ref: stateMachineId }))
    );
  };
  /** Each `states:` action a role has, with what it applies to: this state machine, its executions, or other. */
  const sfnGrants = (owner: { role?: IConstruct }) =>
    roleStatements(owner)
      .filter((s) => actions(s).some((a) => a.startsWith('states:')))
      .flatMap((s: Statement) => {
        const target =
          JSON.stringify(s.Resource) === JSON.stringify({ Ref: stateMachineId }) ||
          JSON.stringify(s.Resource) === JSON.stringify(builtArn)
            ? 'stateMachine'
            : executionsOfStateMachine(s.Resource)
              ? 'executions'
              : `other ${JSON.stringify(s.Resource)}`;
        return actions(s).map((action) => `${action} on ${target}`);
      })
      .sort();

  // What each function's domain code calls; a new call must be added here on purpose.
  const expected: [string, { role?: IConstruct }, string[]][] = [
    [
      'schedules (run starts, CancelOther stops and wakes a run parked behind)',
      api.functions[HandlerGroup.schedules],
      [
        'states:SendTaskSuccess on stateMachine',
        'states:StartExecution on stateMachine',
        'states:StopExecution on executions',
      ],
    ],
    [
      'executions (cancel stops, resume and cancel wake a parked state machine, retry starts a run)',
      api.functions[HandlerGroup.executions],
      [
        'states:SendTaskSuccess on stateMachine',
        'states:StartExecution on stateMachine',
        'states:StopExecution on executions',
      ],
    ],
    [
      'worker (complete, heartbeat)',
      api.functions[HandlerGroup.worker],
      ['states:SendTaskHeartbeat on stateMachine', 'states:SendTaskSuccess on stateMachine'],
    ],
    ['claims', api.functions[HandlerGroup.claims], []],
    ['api-keys', api.functions[HandlerGroup.apiKeys], []],
    ['meta', api.functions[HandlerGroup.meta], []],
    ['authorizer', api.authorizerFunction, []],
    [
      'orchestrator (answers a step that can no longer run, wakes a park)',
      workflow.orchestratorFunction,
      ['states:SendTaskSuccess on stateMachine'],
    ],
    [
      'dispatcher (cron runs start, CancelOther stops and wakes a run parked behind)',
      stack.cronTrigger.dispatcherFunction,
      [
        'states:SendTaskSuccess on stateMachine',
        'states:StartExecution on stateMachine',
        'states:StopExecution on executions',
      ],
    ],
    [
      'reconciler (restarts, inspects, keeps unclaimed tasks alive, wakes a run parked behind an orphan or whose wake-up was lost)',
      workflow.reconcilerFunction,
      [
        'states:DescribeExecution on executions',
        'states:SendTaskHeartbeat on stateMachine',
        'states:SendTaskSuccess on stateMachine',
        'states:StartExecution on stateMachine',
      ],
    ],
  ];

  it.each(expected)('grants %s exactly its calls, on this state machine only', (_name, owner, calls) => {
    expect(sfnGrants(owner)).toEqual(calls);
  });

  it('grants no Step Functions action on "*"', () => {
    const all = ofType('AWS::IAM::Policy').flatMap(
      ([, p]) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    for (const statement of all.filter((s) => actions(s).some((a) => a.startsWith('states:')))) {
      expect(JSON.stringify(statement.Resource)).not.toBe('"*"');
    }
  });
});

describe('ExecutionWorkflow functions', () => {
  it.each([
    [
      'orchestrator',
      workflow.orchestratorFunction,
      { write: ['counters', 'executionSteps', 'executions', 'workerTasks'], read: [] },
    ],
    [
      'reconciler',
      workflow.reconcilerFunction,
      { write: ['counters', 'executionSteps', 'executions', 'workerTasks'], read: [] },
    ],
  ] as const)('grants the %s exactly its tables', (_name, fn, { write, read }) => {
    const access = tableAccess(fn);
    expect(access.write).toEqual([...write].sort());
    expect(access.reach).toEqual([...write, ...read].sort());
  });

  it('lets the reconciler query the worker tasks indexes', () => {
    const statements = roleStatements(workflow.reconcilerFunction);
    expect(queriesIndexesOf(statements, logicalId(stack.data.tables.workerTasks))).toBe(true);
  });
});

describe('function environment and timeouts', () => {
  const servicesBuilders: [string, IConstruct][] = [
    ...(['schedules', 'executions', 'api-keys', 'claims', 'worker'] as const).map(
      (g): [string, IConstruct] => [g, api.functions[g]],
    ),
    ['authorizer', api.authorizerFunction],
    ['orchestrator', workflow.orchestratorFunction],
    ['reconciler', workflow.reconcilerFunction],
    ['dispatcher', stack.cronTrigger.dispatcherFunction],
  ];

  it.each(servicesBuilders)(
    'gives %s the state machine ARN, the settings and every table name',
    (_name, fn) => {
      const variables = functionResource(fn).Properties.Environment.Variables;
      expect(variables).toMatchObject({
        [ENV.stateMachineArn]: builtArn,
        [ENV.waitSeconds]: String(DEFAULT_CONFIG.orchestrator.waitSeconds),
        [ENV.heartbeatTimeoutSeconds]: String(DEFAULT_CONFIG.orchestrator.heartbeatTimeoutSeconds),
        [ENV.queueTimeoutSeconds]: String(DEFAULT_CONFIG.orchestrator.queueTimeoutSeconds),
      });
      for (const key of Object.keys(TABLE_ENV) as TableKey[]) {
        expect(variables[TABLE_ENV[key]]).toEqual({ Ref: logicalId(stack.data.tables[key]) });
      }
    },
  );

  it('gives meta, which builds no services, none of it', () => {
    const variables = functionResource(api.functions.meta).Properties.Environment.Variables;
    expect(Object.keys(variables).sort()).toEqual(['POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_SERVICE_NAME']);
  });

  it('lets the claims function outlast its longest claim long poll, within API Gateway’s 29 s', () => {
    const longestPoll = ClaimInput.shape.waitSeconds.unwrap().maxValue ?? Number.POSITIVE_INFINITY;
    const timeout = functionResource(api.functions.claims).Properties.Timeout as number;
    expect(timeout).toBeGreaterThan(longestPoll + 5);
    expect(timeout).toBeLessThan(29);
  });

  it.each(
    (['schedules', 'executions', 'api-keys', 'meta', 'worker'] as const).map((g): [string, IConstruct] => [
      g,
      api.functions[g],
    ]),
  )('ends a stuck %s call well before API Gateway does', (_name, fn) => {
    expect(functionResource(fn).Properties.Timeout).toBeGreaterThanOrEqual(5);
    expect(functionResource(fn).Properties.Timeout).toBeLessThanOrEqual(15);
  });

  it('takes the orchestrator settings from context', () => {
    const custom = synth({
      orchestratorWaitSeconds: '7',
      stepHeartbeatTimeoutSeconds: 300,
      stepQueueTimeoutSeconds: '3600',
    });
    const variables = custom.resources[custom.logicalId(custom.stack.api.functions.worker)]?.Properties
      .Environment.Variables as Record<string, unknown>;
    expect(variables[ENV.waitSeconds]).toBe('7');
    expect(variables[ENV.heartbeatTimeoutSeconds]).toBe('300');
    expect(variables[ENV.queueTimeoutSeconds]).toBe('3600');
  });

  it.each([
    ['orchestratorWaitSeconds', '0'],
    ['orchestratorWaitSeconds', '2.5'],
    ['stepHeartbeatTimeoutSeconds', 'soon'],
    ['stepHeartbeatTimeoutSeconds', String(MIN_STEP_HEARTBEAT_TIMEOUT_SECONDS - 1)],
    ['stepQueueTimeoutSeconds', '0'],
  ])('refuses %s=%s', (key, value) => {
    expect(() => readConfig(newApp({ [key]: value }).node)).toThrow(ConfigError);
  });
});
