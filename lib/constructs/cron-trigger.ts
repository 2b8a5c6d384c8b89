import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { TableKey } from '../../core/adapters/dynamodb/tables.js';
import { ALL_DUE_PARTITIONS } from '../../core/due-partitions.js';
import type { DispatchEvent } from '../../core/schemas/dispatch.js';
import type { FunctionLogLevel } from '../config.js';
import { ServiceFunction } from './function.js';
import { type ExecutionWorkflow, WorkflowAccess } from './workflow.js';

export interface CronTriggerProps {
  /** The service's tables by key; the dispatcher gets only those a run writes. */
  readonly tables: Readonly<Record<TableKey, ITableV2>>;
  /** The state machine the dispatcher starts (and, for CancelOther, stops) executions of. */
  readonly workflow: ExecutionWorkflow;
  /** Retention of the dispatcher's logs. */
  readonly logRetention: RetentionDays;
  /** `POWERTOOLS_LOG_LEVEL` of the dispatcher. */
  readonly logLevel: FunctionLogLevel;
}

/**
 * Makes Cron schedules fire: an EventBridge rule `cron(* * * * ? *)` invokes the dispatcher each
 * minute, once per due partition (one target each, see core/due-partitions.ts), and each invocation
 * reads its partition of the due index and fires those schedules once (`functions/dispatcher.ts`).
 * One rule for every schedule, not one per schedule: time zones,
 * `L`/`W`/`#`, overlap and catch-up are then the service's own code, the same as on a laptop, and a
 * schedule edit is one table write rather than a rule change.
 */
export class CronTrigger extends Construct {
  /** Fires the due schedules. */
  public readonly dispatcherFunction: ServiceFunction;
  /** The every-minute rule that invokes {@link dispatcherFunction}. */
  public readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CronTriggerProps) {
    super(scope, id);
    this.dispatcherFunction = new ServiceFunction(this, 'DispatcherFunction', {
      file: 'dispatcher',
      description: 'Every minute: fires the due cron schedules',
      environment: props.workflow.serviceEnvironment,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      // The dispatcher stops taking up schedules after 45 s (DEFAULT_DISPATCHER_SETTINGS), leaving
      // the rest, longest due first, to the next minute; this bounds the fires still in flight.
      timeout: Duration.seconds(60),
      // A fire costs a few milliseconds of CPU (SDK signing and marshalling of three requests, and a
      // hundredth of a batched read; ~4.5 ms measured by the dispatch bench); one full vCPU (1,769 MB)
      // keeps a partition of a busy minute well inside the budget.
      memorySize: 1769,
      // A failed tick is redone by the next one; each fire is claimed, so overlap is harmless but wasteful.
      retryAttempts: 0,
    });
    // A run writes the execution, its steps and both counters in one transaction with the schedule.
    for (const key of ['schedules', 'executions', 'executionSteps', 'counters'] as const) {
      this.dispatcherFunction.grantData(props.tables[key], 'readWrite');
    }
    // CancelOther's cancel ends executions, which wakes a run parked behind them (SendTaskSuccess).
    props.workflow.grant(this.dispatcherFunction, [
      WorkflowAccess.start,
      WorkflowAccess.stop,
      WorkflowAccess.taskSuccess,
    ]);

    this.rule = new Rule(this, 'EveryMinute', {
      description: 'Fires due cron schedules (the dispatcher) every minute',
      schedule: Schedule.cron({ minute: '*' }),
      // A delivery older than a minute has been overtaken by the next tick, which sees the same due schedules.
      targets: ALL_DUE_PARTITIONS.map(
        (partition) =>
          new LambdaFunction(this.dispatcherFunction, {
            event: RuleTargetInput.fromObject({ partition } satisfies DispatchEvent),
            maxEventAge: Duration.minutes(1),
            retryAttempts: 2,
          }),
      ),
    });
  }
}
