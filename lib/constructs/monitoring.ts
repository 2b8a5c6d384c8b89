import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { TableKey } from '../../core/adapters/dynamodb/tables.js';
import { METRICS_NAMESPACE, MetricDimension, MetricName, SERVICE_NAME } from '../../core/metrics.js';
import { StepType } from '../../core/model.js';
import type { AlarmSettings } from '../config.js';
import { acknowledgeNag } from '../nag.js';

export interface ServiceMonitoringProps {
  /** The REST API; its deployment stage's latency and 4xx/5xx are shown, its 5xx rate alarmed. */
  readonly api: RestApi;
  /** The execution state machine; failed and timed-out executions are alarmed. */
  readonly stateMachine: IStateMachine;
  /** Every function of the stack: errors and throttles shown, errors alarmed one alarm each. */
  readonly functions: readonly IFunction[];
  /** The service's tables by key: read and write throttle events shown and alarmed. */
  readonly tables: Readonly<Record<TableKey, ITableV2>>;
  /** Thresholds, and the email address told of alarms. */
  readonly alarms: AlarmSettings;
  /** Queues where failed work is parked for a person (by alarm id prefix): any message is alarmed. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
}

const PERIOD = Duration.minutes(5);
const WIDTH = 12;

/** One of the service's own metrics (`core/metrics.ts`), with the `service` dimension Powertools adds. */
function serviceMetric(
  metricName: MetricName,
  statistic: string,
  dimensions: Record<string, string> = {},
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { [MetricDimension.Service]: SERVICE_NAME, ...dimensions },
    statistic,
    period: PERIOD,
  });
}

/** One metric per step type: the dashboard must show a type before it first runs, so not SEARCH. */
const perStepType = (metricName: MetricName, statistic: string): Metric[] =>
  Object.values(StepType).map((stepType) =>
    serviceMetric(metricName, statistic, { [MetricDimension.StepType]: stepType }).with({ label: stepType }),
  );

const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
  new GraphWidget({ title, left, right, width: WIDTH, height: 6 });

/**
 * What an operator looks at and what wakes one up: a CloudWatch dashboard of the service's own
 * metrics and the AWS metrics of its API, functions, state machine and tables, and alarms on the
 * conditions that need a person, sent to an SNS topic (by email when one is configured).
 *
 * Counts treat missing data as not breaching: no executions, no requests and no dispatch failures
 * all emit nothing. The oldest-task gauge does too: the reconciler that emits it every minute is
 * itself covered by its Lambda errors alarm (a run that cannot start) and its failures alarm.
 */
export class ServiceMonitoring extends Construct {
  /** Where every alarm (and its return to OK) is sent. */
  public readonly alarmTopic: Topic;
  /** The service's dashboard. */
  public readonly dashboard: Dashboard;
  /** Every alarm, to be listed on the dashboard and asserted by the tests. */
  public readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ServiceMonitoringProps) {
    super(scope, id);
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: 'Schedule execution service alarms',
      // Refuses publishing and subscribing over plain HTTP (topic policy with aws:SecureTransport).
      enforceSSL: true,
    });
    acknowledgeNag(
      this.alarmTopic,
      'SNS2',
      'Messages are alarm names, states and metric values, no customer data. CloudWatch alarms cannot ' +
        'publish to a topic under the aws/sns key, and a customer key would add a key policy and a monthly fee.',
    );
    if (props.alarms.email) this.alarmTopic.addSubscription(new EmailSubscription(props.alarms.email));

    const stage = props.api.deploymentStage;
    const { stateMachine, functions, tables } = props;
    const tableEntries = Object.entries(tables) as [TableKey, ITableV2][];
    const throttleEvents = (table: ITableV2) => ({
      reads: table.metric('ReadThrottleEvents', { statistic: Stats.SUM, period: PERIOD }),
      writes: table.metric('WriteThrottleEvents', { statistic: Stats.SUM, period: PERIOD }),
    });

    // Infrastructure failures: the orchestrator ran out of retries or the execution hit its timeout.
    // A schedule whose step fails ends the Step Functions execution normally, so these are never routine.
    this.alarm('StateMachineFailed', stateMachine.metricFailed({ period: PERIOD }), {
      threshold: 1,
      description: 'State machine executions failed: the orchestrator failed past its retries.',
    });
    this.alarm('StateMachineTimedOut', stateMachine.metricTimedOut({ period: PERIOD }), {
      threshold: 1,
      description: 'State machine executions timed out.',
    });
    // Handlers map every expected error to a response; an invocation error is a bug or an outage.
    for (const fn of functions) {
      this.alarm(`${fn.node.id}Errors`, fn.metricErrors({ period: PERIOD }), {
        threshold: 1,
        description: `${fn.node.id} invocations failed (unhandled errors, timeouts or crashes).`,
      });
    }
    for (const [key, table] of tableEntries) {
      this.alarm(
        `${table.node.id}Throttles`,
        new MathExpression({
          expression: 'reads + writes',
          usingMetrics: throttleEvents(table),
          label: `${key} throttle events`,
          period: PERIOD,
        }),
        { threshold: 1, description: `DynamoDB throttled requests to the ${key} table.` },
      );
    }
    // Average of 5XXError is the share of requests answered 5xx; two periods in a row so one failed
    // request in a quiet minute does not page anyone.
    this.alarm('Api5xxRate', stage.metricServerError({ statistic: Stats.AVERAGE, period: PERIOD }), {
      threshold: props.alarms.api5xxPercent / 100,
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      description: `More than ${props.alarms.api5xxPercent}% of API requests answered 5xx.`,
    });
    this.alarm('OldestUnclaimedTask', serviceMetric(MetricName.OldestUnclaimedTaskAge, Stats.MAXIMUM), {
      threshold: props.alarms.oldestTaskAgeSeconds,
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      description: `A worker task has waited over ${props.alarms.oldestTaskAgeSeconds} s for a worker: workers are down or saturated.`,
    });
    // A failed or deferred schedule stays due and is retried by the next tick: alarm only when it lasts.
    this.alarm('DispatchFailures', serviceMetric(MetricName.DispatchFailures, Stats.SUM), {
      threshold: 1,
      evaluationPeriods: 2,
      description: 'Cron schedules could not be fired for 10 minutes (they stay due and are retried).',
    });
    // The reconciler goes on past a failing item and retries it next minute: alarm only when it lasts.
    this.alarm('ReconcileFailures', serviceMetric(MetricName.ReconcileFailures, Stats.SUM), {
      threshold: 1,
      evaluationPeriods: 2,
      description:
        'The reconciler could not handle some executions or waiting tasks for 10 minutes (Step Functions or DynamoDB failing or throttling).',
    });
    // Parked records are never retried by themselves: one is already work lost until someone replays it (README).
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(
        `${name}DeadLetters`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: Stats.MAXIMUM, period: PERIOD }),
        {
          threshold: 1,
          description: `${name}: records were parked in its dead-letter queue; replay them (README).`,
        },
      );
    }
    this.alarm('DispatchDeferred', serviceMetric(MetricName.DispatchDeferred, Stats.SUM), {
      threshold: 1,
      evaluationPeriods: 3,
      description:
        'The dispatcher has left due schedules to the next tick for 15 minutes: cron is not keeping up.',
    });

    const executions = [
      MetricName.ExecutionsStarted,
      MetricName.ExecutionsCompleted,
      MetricName.ExecutionsFailed,
      MetricName.ExecutionsCancelled,
    ].map((name) => serviceMetric(name, Stats.SUM));
    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
        [
          graph('Executions', executions),
          graph(
            'Active executions, reconciler failures; oldest unclaimed task (s)',
            [
              serviceMetric(MetricName.ActiveExecutions, Stats.MAXIMUM),
              serviceMetric(MetricName.ReconcileFailures, Stats.SUM),
            ],
            [serviceMetric(MetricName.OldestUnclaimedTaskAge, Stats.MAXIMUM)],
          ),
        ],
        [
          graph(
            'Step duration by step type (s, average)',
            perStepType(MetricName.StepDuration, Stats.AVERAGE),
          ),
          graph('Failed steps by step type', perStepType(MetricName.StepsFailed, Stats.SUM)),
        ],
        [
          graph('Dispatch lag (ms)', [
            serviceMetric(MetricName.DispatchLag, Stats.p(99)),
            serviceMetric(MetricName.DispatchLag, Stats.MAXIMUM),
          ]),
          graph(
            'Dispatcher',
            [MetricName.SchedulesFired, MetricName.SchedulesSkipped, MetricName.FireTimesMissed].map((name) =>
              serviceMetric(name, Stats.SUM),
            ),
            [MetricName.DispatchFailures, MetricName.DispatchDeferred].map((name) =>
              serviceMetric(name, Stats.SUM),
            ),
          ),
        ],
        [
          graph('API latency (ms)', [
            stage.metricLatency({ statistic: Stats.p(50), period: PERIOD }),
            stage.metricLatency({ statistic: Stats.p(99), period: PERIOD }),
          ]),
          graph(
            'API requests and errors',
            [stage.metricCount({ period: PERIOD })],
            [stage.metricClientError({ period: PERIOD }), stage.metricServerError({ period: PERIOD })],
          ),
        ],
        [
          graph(
            'Lambda errors',
            functions.map((fn) => fn.metricErrors({ period: PERIOD, label: fn.node.id })),
          ),
          graph(
            'Lambda throttles',
            functions.map((fn) => fn.metricThrottles({ period: PERIOD, label: fn.node.id })),
          ),
        ],
        [
          graph('State machine executions', [
            stateMachine.metricFailed({ period: PERIOD }),
            stateMachine.metricTimedOut({ period: PERIOD }),
            stateMachine.metricAborted({ period: PERIOD }),
          ]),
          graph(
            'DynamoDB throttle events (read / write)',
            tableEntries.flatMap(([key, table]) => {
              const { reads, writes } = throttleEvents(table);
              return [reads.with({ label: `${key} reads` }), writes.with({ label: `${key} writes` })];
            }),
          ),
        ],
      ],
    });
  }

  private alarm(
    id: string,
    metric: IMetric,
    options: {
      readonly threshold: number;
      readonly description: string;
      readonly evaluationPeriods?: number;
      readonly comparison?: ComparisonOperator;
    },
  ): void {
    const alarm = new Alarm(this, id, {
      metric,
      threshold: options.threshold,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    const action = new SnsAction(this.alarmTopic);
    alarm.addAlarmAction(action);
    // Tell the person when it is over too, so nobody chases an alarm that has already cleared.
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }
}
