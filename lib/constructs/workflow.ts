import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import type { TableKey } from '../../core/adapters/dynamodb/tables.js';
import { MAX_QUEUE_PREFIX } from '../../core/adapters/sqs/queue-signals.js';
import type { ValueOf } from '../../core/enum.js';
import { SIGNAL_ENV } from '../../core/environment.js';
import type { OrchestratorSettings } from '../../core/services/orchestrator.js';
import type { FunctionLogLevel } from '../config.js';
import { acknowledgeGrantWildcards, acknowledgeNag } from '../nag.js';
import { ServiceFunction, serviceEnvironment } from './function.js';

/** The ASL file, run unchanged by the local runtime. */
export const DEFINITION_FILE = fileURLToPath(
  new URL('../../statemachines/execution.asl.json', import.meta.url),
);

/** What the definition file's `${...}` placeholders are replaced with, by CloudFormation at deploy time. */
export const DefinitionPlaceholder = { orchestratorFunctionArn: 'OrchestratorFunctionArn' } as const;

/** The Step Functions API calls a function may be granted; each is scoped to this state machine. */
export const WorkflowAccess = {
  start: 'states:StartExecution',
  stop: 'states:StopExecution',
  describe: 'states:DescribeExecution',
  taskSuccess: 'states:SendTaskSuccess',
  taskHeartbeat: 'states:SendTaskHeartbeat',
} as const;
export type WorkflowAccess = ValueOf<typeof WorkflowAccess>;

/**
 * The SQS calls on the claims' wake-up queues (one per pool, created on first use): whoever queues a
 * task sends; the claims function receives and drops signals, and sends one for a task it gives back.
 */
const CLAIM_SIGNAL_ACTIONS = {
  send: ['sqs:CreateQueue', 'sqs:SendMessage'],
  receive: ['sqs:CreateQueue', 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'],
} as const;

const EXECUTION_ACTIONS: readonly WorkflowAccess[] = [WorkflowAccess.stop, WorkflowAccess.describe];
const TASK_RESPONSE_ACTIONS: readonly WorkflowAccess[] = [
  WorkflowAccess.taskSuccess,
  WorkflowAccess.taskHeartbeat,
];

/** Step Functions allows 1-80 characters for a state machine name. */
const MAX_NAME_LENGTH = 80;

export interface ExecutionWorkflowProps {
  /** The service's tables by key; the orchestrator and the reconciler get only those they touch. */
  readonly tables: Readonly<Record<TableKey, ITableV2>>;
  /** Retention of the functions' logs and of the state machine's log. */
  readonly logRetention: RetentionDays;
  /** `POWERTOOLS_LOG_LEVEL` of the orchestrator and the reconciler. */
  readonly logLevel: FunctionLogLevel;
  /** Longest park of a paused or buffered execution without a wake-up, and the running step's heartbeat deadline. */
  readonly settings: OrchestratorSettings;
  /** Days finished executions are kept (TTL); every function that ends executions needs it. */
  readonly retentionDays: number;
  /**
   * The state machine's physical name. It is fixed (not generated) because the functions are told
   * the ARN before the state machine exists: see {@link ExecutionWorkflow.stateMachineArn}.
   *
   * @default `<stack name>-Execution`
   */
  readonly stateMachineName?: string;
}

/**
 * One Step Functions (Standard) execution per schedule execution, from `statemachines/execution.asl.json`:
 * the orchestrator function its Task states call, the state machine, and the reconciler that EventBridge
 * runs every minute so that no execution stays active forever.
 */
export class ExecutionWorkflow extends Construct {
  /** The state machine. */
  public readonly stateMachine: StateMachine;
  /**
   * The state machine's ARN, built from the stack's partition, region and account and the fixed
   * {@link stateMachineName} rather than read from the resource.
   *
   * Why: the definition names the orchestrator (`${OrchestratorFunctionArn}`) and the state
   * machine's role may invoke it, so the state machine depends on the orchestrator; the
   * orchestrator in turn needs the state machine's ARN (`STATE_MACHINE_ARN`, and its policy for
   * SendTaskSuccess). With `stateMachine.stateMachineArn` (a `Ref`) CloudFormation would see a
   * cycle. A name fixed at synth time makes the ARN a plain string that depends on nothing: the
   * standard way out, at the price of a physical name (one such stack per account and region,
   * which the stack-name prefix already implies).
   */
  public readonly stateMachineArn: string;
  /** The state machine's physical name. */
  public readonly stateMachineName: string;
  /** The function behind every Task state of the definition. */
  public readonly orchestratorFunction: ServiceFunction;
  /** Run every minute: starts executions whose state machine never started, fails orphans, keeps unclaimed tasks alive. */
  public readonly reconcilerFunction: ServiceFunction;
  /** The every-minute EventBridge rule that invokes {@link reconcilerFunction}. */
  public readonly reconcilerSchedule: Rule;
  /** The environment of every function that builds the services: table names, state machine ARN, settings. */
  public readonly serviceEnvironment: Readonly<Record<string, string>>;
  /**
   * Names the claims' wake-up queues, `<stack name>-claims-<pool>-<hash>`: pools are free-form and
   * made at run time, so the queues are created on first use, and IAM names them by this prefix.
   */
  public readonly claimQueuePrefix: string;

  constructor(scope: Construct, id: string, props: ExecutionWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.stateMachineName = props.stateMachineName ?? `${stack.stackName}-Execution`;
    if (!Token.isUnresolved(this.stateMachineName) && this.stateMachineName.length > MAX_NAME_LENGTH) {
      throw new Error(
        `State machine name '${this.stateMachineName}' is longer than ${MAX_NAME_LENGTH} characters.`,
      );
    }
    this.stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.claimQueuePrefix = `${stack.stackName}-claims-`;
    if (!Token.isUnresolved(stack.stackName) && this.claimQueuePrefix.length > MAX_QUEUE_PREFIX) {
      throw new Error(`Wake-up queue prefix '${this.claimQueuePrefix}' is longer than ${MAX_QUEUE_PREFIX}.`);
    }
    // Names are not access (as with the tables): the grants below decide who may use the queues.
    this.serviceEnvironment = {
      ...serviceEnvironment(props.tables, this.stateMachineArn, props.settings, props.retentionDays),
      [SIGNAL_ENV.queuePrefix]: this.claimQueuePrefix,
    };
    const { tables } = props;

    this.orchestratorFunction = new ServiceFunction(this, 'OrchestratorFunction', {
      file: 'orchestrator',
      description: 'Decides and records each move of a schedule execution (state machine tasks)',
      environment: this.serviceEnvironment,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      // DynamoDB reads and conditional writes only; the state machine retries a failed attempt.
      timeout: Duration.seconds(30),
    });
    // An execution's status change moves its cell counters in the same transaction.
    for (const key of ['executions', 'executionSteps', 'workerTasks', 'counters'] as const) {
      this.orchestratorFunction.grantData(tables[key], 'readWrite');
    }
    // A step that can no longer run is answered at once (SendTaskSuccess with `skipped`), and so is
    // a park that is no longer needed, or a run parked behind one that ends. Scoped
    // through the built ARN, not the resource, or the grant would close the cycle described above.
    this.grantTaskResponse(this.orchestratorFunction, this.stateMachineArn, [WorkflowAccess.taskSuccess]);
    // Each step it queues wakes a waiting claim of its pool.
    this.grantClaimSignals(this.orchestratorFunction, 'send');

    const logGroup = new LogGroup(this, 'StateMachineLogs', { retention: props.logRetention });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      // Inline (not `fromFile`, which uploads an S3 asset): the definition is then part of the
      // template, so `cdk diff` shows a change to it and the tests can read it. CloudFormation fills
      // the placeholders from `definitionSubstitutions`, as the local runtime does from its own map.
      definitionBody: DefinitionBody.fromString(readFileSync(DEFINITION_FILE, 'utf8')),
      definitionSubstitutions: {
        [DefinitionPlaceholder.orchestratorFunctionArn]: this.orchestratorFunction.functionArn,
      },
      // Errors only, without state input and output: those carry task tokens and step
      // configuration; the execution history keeps the full record for 90 days.
      logs: { destination: logGroup, level: LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
    });
    // The role may invoke the orchestrator and nothing else (the definition calls nothing else).
    acknowledgeGrantWildcards(
      this.stateMachine,
      this.orchestratorFunction.grantInvoke(this.stateMachine),
      'lambda:InvokeFunction on the orchestrator and its versions (<ARN>:*, how CDK grants invoke), nothing else.',
    );
    acknowledgeNag(
      this.stateMachine,
      'IAM5[Resource::*]',
      'Tracing: xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules and GetSamplingTargets ' +
        'support no resource-level permissions, so IAM only accepts "*".',
    );
    acknowledgeNag(
      this.stateMachine,
      'SF1',
      'Logs ERROR only, without execution data (task tokens, step configuration); ALL would write ' +
        'every state transition of every execution, which the execution history already keeps for 90 days.',
    );

    this.reconcilerFunction = new ServiceFunction(this, 'ReconcilerFunction', {
      file: 'reconciler',
      description: 'Every minute: restarts, fails or keeps alive what the state machine left behind',
      environment: this.serviceEnvironment,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      // Under the one-minute period, so runs do not pile up behind a slow one.
      timeout: Duration.seconds(50),
      // A failed run is redone by the next one a minute later; Lambda's own retries would only overlap it.
      retryAttempts: 0,
    });
    this.reconcilerFunction.grantData(tables.executions, 'readWrite');
    this.reconcilerFunction.grantData(tables.executionSteps, 'readWrite');
    // A crash it ends fails the execution, which moves its cell counters.
    this.reconcilerFunction.grantData(tables.counters, 'readWrite');
    // Write: a task never claimed within the queue limit is abandoned (Orchestrator.timeOutIfOverdue).
    this.reconcilerFunction.grantData(tables.workerTasks, 'readWrite');
    // SendTaskSuccess: failing an orphan ends it, which wakes a run parked behind it; and a run
    // whose wake-up was lost is woken.
    this.grant(this.reconcilerFunction, [
      WorkflowAccess.start,
      WorkflowAccess.describe,
      WorkflowAccess.taskHeartbeat,
      WorkflowAccess.taskSuccess,
    ]);

    this.reconcilerSchedule = new Rule(this, 'ReconcilerSchedule', {
      description: 'Runs the reconciler every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      // A delivery older than a minute has been overtaken by the next one.
      targets: [
        new LambdaFunction(this.reconcilerFunction, { maxEventAge: Duration.minutes(1), retryAttempts: 2 }),
      ],
    });
  }

  /**
   * Lets `grantee` make the given Step Functions calls on this state machine alone: StartExecution
   * on the state machine, StopExecution and DescribeExecution on its executions, SendTask* (task
   * tokens) on the state machine.
   */
  grant(grantee: IGrantable & IConstruct, access: readonly WorkflowAccess[]): void {
    if (access.includes(WorkflowAccess.start)) this.stateMachine.grants.startExecution(grantee);
    const onExecutions = access.filter((action) => EXECUTION_ACTIONS.includes(action));
    if (onExecutions.length > 0) {
      acknowledgeGrantWildcards(
        grantee,
        this.stateMachine.grants.execution(grantee, ...onExecutions),
        'Execution ARNs are <state machine ARN with :execution:>:<execution name>; the names are ' +
          'execution ids, unknown until run, so :* names the executions of this one state machine.',
      );
    }
    const taskResponses = access.filter((action) => TASK_RESPONSE_ACTIONS.includes(action));
    if (taskResponses.length > 0)
      this.grantTaskResponse(grantee, this.stateMachine.stateMachineArn, taskResponses);
  }

  /** Lets `grantee` use the claims' wake-up queues: those named by {@link claimQueuePrefix} only. */
  grantClaimSignals(grantee: IGrantable & IConstruct, use: keyof typeof CLAIM_SIGNAL_ACTIONS): void {
    const stack = Stack.of(this);
    const queues = stack.formatArn({ service: 'sqs', resource: `${this.claimQueuePrefix}*` });
    Grant.addToPrincipal({ grantee, actions: [...CLAIM_SIGNAL_ACTIONS[use]], resourceArns: [queues] });
    acknowledgeNag(
      grantee,
      `IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:${this.claimQueuePrefix}*]`,
      'One wake-up queue per worker pool; pools are free-form names known only at run time, so the ' +
        "queues are created on first use and named by the stack's prefix: the ARN names those alone.",
    );
  }

  /**
   * SendTaskSuccess/SendTaskHeartbeat. The Service Authorization Reference lists no resource type
   * for them (which would mean `Resource: "*"`), but Step Functions authorizes a callback token
   * against the state machine that issued it (its AccessDenied names `...:stateMachine:<name>`, and
   * CDK's own `grants.taskResponse` scopes to the state machine ARN), so that ARN is the tightest
   * scope IAM allows here. Not `grants.taskResponse`: it adds SendTaskFailure, which nothing calls.
   */
  private grantTaskResponse(
    grantee: IGrantable,
    stateMachineArn: string,
    actions: readonly WorkflowAccess[],
  ) {
    Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [stateMachineArn] });
  }
}
