import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, MetricName, SERVICE_NAME } from '../../core/metrics.js';
import { StepType } from '../../core/model.js';
import { DEFAULT_CONFIG, readConfig } from '../../lib/config.js';
import { ServiceFunction } from '../../lib/constructs/function.js';
import { newApp, type Resource, synth } from './template.js';

// `functions`: every function of the template but aws-cdk-lib's deploy-time copy of the console,
// which runs only inside a deploy (a failure fails the deploy) and so is neither graphed nor alarmed.
const { stack, template, resources, logicalId, ofType, tableIds, functions } = synth();
// Every setting this file checks, changed from its default in one synth.
const custom = synth({
  alarmEmail: 'ops@example.com',
  logLevel: 'DEBUG',
  oldestTaskAgeAlarmSeconds: '900',
  api5xxAlarmPercent: 2,
});
const { monitoring } = stack;
const topicRef = { Ref: logicalId(monitoring.alarmTopic) };

/** A token of the template (`{ Ref }`, `{ Fn::GetAtt }`) as a placeholder that survives JSON parsing. */
const placeholder = (token: Record<string, unknown>) => {
  const [fn, value] = Object.entries(token)[0] as [string, unknown];
  return `<${fn}:${[value].flat().join('.')}>`;
};
const ref = (id: string) => placeholder({ Ref: id });

/** The dashboard body (an Fn::Join of text and tokens) as the JSON CloudWatch will receive. */
const dashboard = (() => {
  const [[, dashboardResource] = []] = ofType('AWS::CloudWatch::Dashboard');
  if (!dashboardResource) throw new Error('no dashboard');
  const [separator, parts] = dashboardResource.Properties.DashboardBody['Fn::Join'] as [string, unknown[]];
  const text = parts
    .map((part) => (typeof part === 'string' ? part : placeholder(part as Record<string, unknown>)))
    .join(separator);
  return JSON.parse(text) as { widgets: { type: string; properties: { metrics?: unknown[][] } }[] };
})();

/** Each graphed metric as `namespace name dim=value ...`, dimensions sorted. */
const graphed = new Set(
  dashboard.widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).map((entry) => {
      const [namespace, name, ...rest] = entry.filter((part) => typeof part === 'string') as string[];
      const dimensions: string[] = [];
      for (let i = 0; i < rest.length; i += 2) dimensions.push(`${rest[i]}=${rest[i + 1]}`);
      return [namespace, name, ...dimensions.sort()].join(' ');
    }),
  ),
);
const service = `service=${SERVICE_NAME}`;
const stageDimensions = `ApiName=RestApi Stage=${ref(logicalId(stack.api.api.deploymentStage))}`;

describe('ServiceMonitoring dashboard', () => {
  it.each([
    MetricName.ExecutionsStarted,
    MetricName.ExecutionsCompleted,
    MetricName.ExecutionsFailed,
    MetricName.ExecutionsCancelled,
    MetricName.ActiveExecutions,
    MetricName.OldestUnclaimedTaskAge,
    MetricName.ReconcileFailures,
    MetricName.DispatchLag,
    MetricName.SchedulesFired,
    MetricName.SchedulesSkipped,
    MetricName.FireTimesMissed,
    MetricName.DispatchFailures,
    MetricName.DispatchDeferred,
  ])('graphs the service metric %s', (name) => {
    expect(graphed).toContain(`${METRICS_NAMESPACE} ${name} ${service}`);
  });

  it.each([MetricName.StepDuration, MetricName.StepsFailed])('graphs %s of every step type', (name) => {
    for (const stepType of Object.values(StepType)) {
      expect(graphed).toContain(`${METRICS_NAMESPACE} ${name} StepType=${stepType} ${service}`);
    }
  });

  it.each(['Latency', 'Count', '4XXError', '5XXError'])('graphs the API stage metric %s', (name) => {
    expect(graphed).toContain(`AWS/ApiGateway ${name} ${stageDimensions}`);
  });

  it('graphs errors and throttles of every function of the stack', () => {
    expect(functions.length).toBeGreaterThan(0);
    for (const [id] of functions) {
      expect(graphed).toContain(`AWS/Lambda Errors FunctionName=${ref(id)}`);
      expect(graphed).toContain(`AWS/Lambda Throttles FunctionName=${ref(id)}`);
    }
  });

  it('graphs failed, timed-out and aborted state machine executions', () => {
    const dimension = `StateMachineArn=${ref(logicalId(stack.workflow.stateMachine))}`;
    for (const name of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      expect(graphed).toContain(`AWS/States ${name} ${dimension}`);
    }
  });

  it('graphs read and write throttle events of every table', () => {
    for (const id of Object.values(tableIds)) {
      expect(graphed).toContain(`AWS/DynamoDB ReadThrottleEvents TableName=${ref(id)}`);
      expect(graphed).toContain(`AWS/DynamoDB WriteThrottleEvents TableName=${ref(id)}`);
    }
  });

  it('shows the state of every alarm', () => {
    const alarmWidget = dashboard.widgets.find((widget) => widget.type === 'alarm');
    expect((alarmWidget?.properties as { alarms?: string[] } | undefined)?.alarms).toEqual(
      monitoring.alarms.map((alarm) => placeholder({ 'Fn::GetAtt': [logicalId(alarm), 'Arn'] })),
    );
  });
});

describe('ServiceMonitoring alarms', () => {
  const alarmById = (id: string) => {
    const alarm = monitoring.alarms.find((a) => a.node.id === id);
    if (!alarm) throw new Error(`no alarm ${id}`);
    return (resources[logicalId(alarm)] as Resource).Properties;
  };
  /** The metric an alarm watches, as `namespace name`, whether plain or in metric math. */
  const watched = (properties: Record<string, any>) =>
    properties.MetricName
      ? [`${properties.Namespace} ${properties.MetricName}`]
      : (properties.Metrics as any[])
          .filter((m) => m.MetricStat)
          .map((m) => `${m.MetricStat.Metric.Namespace} ${m.MetricStat.Metric.MetricName}`);

  const GTE = 'GreaterThanOrEqualToThreshold';
  const GT = 'GreaterThanThreshold';
  const tableAlarms = Object.values(stack.data.tables).map(
    (table) =>
      [
        `${table.node.id}Throttles`,
        ['AWS/DynamoDB ReadThrottleEvents', 'AWS/DynamoDB WriteThrottleEvents'],
        1,
        GTE,
        1,
      ] as const,
  );
  const serviceFunctions = stack.node.findAll().filter((c) => c instanceof ServiceFunction);
  const functionAlarms = serviceFunctions.map(
    (fn) => [`${fn.node.id}Errors`, ['AWS/Lambda Errors'], 1, GTE, 1] as const,
  );

  it('covers every function of the stack', () => {
    expect(serviceFunctions).toHaveLength(functions.length);
  });
  const cases = [
    ['StateMachineFailed', ['AWS/States ExecutionsFailed'], 1, GTE, 1],
    ['StateMachineTimedOut', ['AWS/States ExecutionsTimedOut'], 1, GTE, 1],
    ['Api5xxRate', ['AWS/ApiGateway 5XXError'], DEFAULT_CONFIG.alarms.api5xxPercent / 100, GT, 2],
    [
      'OldestUnclaimedTask',
      [`${METRICS_NAMESPACE} OldestUnclaimedTaskAge`],
      DEFAULT_CONFIG.alarms.oldestTaskAgeSeconds,
      GT,
      1,
    ],
    ['DispatchFailures', [`${METRICS_NAMESPACE} DispatchFailures`], 1, GTE, 2],
    ['ReconcileFailures', [`${METRICS_NAMESPACE} ReconcileFailures`], 1, GTE, 2],
    ['DispatchDeferred', [`${METRICS_NAMESPACE} DispatchDeferred`], 1, GTE, 3],
    ['ChangeFeedDeadLetters', ['AWS/SQS ApproximateNumberOfMessagesVisible'], 1, GTE, 1],
    ...functionAlarms,
    ...tableAlarms,
  ] as const;

  it.each(cases)(
    'alarms on %s (%j, threshold %s, %s, %s periods) to the topic, missing data not breaching',
    (id, metrics, threshold, comparison, periods) => {
      const properties = alarmById(id);
      expect(watched(properties)).toEqual(metrics);
      expect(properties).toMatchObject({
        Threshold: threshold,
        ComparisonOperator: comparison,
        EvaluationPeriods: periods,
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef],
        OKActions: [topicRef],
      });
    },
  );

  it('has no alarm the table above does not name', () => {
    expect(ofType('AWS::CloudWatch::Alarm')).toHaveLength(cases.length);
  });

  it("watches the change feed's own dead-letter queue", () => {
    expect(alarmById('ChangeFeedDeadLetters').Dimensions).toEqual([
      {
        Name: 'QueueName',
        Value: { 'Fn::GetAtt': [logicalId(stack.changeFeed.deadLetterQueue), 'QueueName'] },
      },
    ]);
  });

  it('reads the service metrics with the service dimension', () => {
    expect(alarmById('OldestUnclaimedTask').Dimensions).toEqual([{ Name: 'service', Value: SERVICE_NAME }]);
  });

  it('takes thresholds from context', () => {
    const find = (id: string) =>
      custom.resources[
        custom.logicalId(custom.stack.monitoring.alarms.find((a) => a.node.id === id) as never)
      ] as Resource;
    expect(find('OldestUnclaimedTask').Properties.Threshold).toBe(900);
    expect(find('Api5xxRate').Properties.Threshold).toBe(0.02);
  });
});

describe('ServiceMonitoring topic', () => {
  it('refuses plain-HTTP publishing', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  it('subscribes the configured email address, and nobody when none is configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    custom.template.resourceCountIs('AWS::SNS::Subscription', 1);
    custom.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: custom.logicalId(custom.stack.monitoring.alarmTopic) },
    });
  });
});

describe('outputs', () => {
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;

  it('outputs the dashboard console URL in the stack region and the alarm topic ARN', () => {
    const url = JSON.stringify(outputs.DashboardUrl?.Value);
    expect(url).toContain('.console.aws.amazon.com/cloudwatch/home?region=');
    expect(url).toContain('{"Ref":"AWS::Region"}');
    expect(url).toContain(JSON.stringify({ Ref: logicalId(monitoring.dashboard) }));
    expect(outputs.AlarmTopicArn?.Value).toEqual(topicRef);
  });

  it('keeps the API URL, state machine ARN and table name outputs', () => {
    expect(outputs).toHaveProperty('ApiUrl');
    expect(outputs).toHaveProperty('StateMachineArn');
    expect(Object.keys(outputs).filter((key) => key.endsWith('TableName'))).toHaveLength(
      Object.keys(tableIds).length,
    );
  });
});

describe('logging and tracing', () => {
  it('sets POWERTOOLS_LOG_LEVEL on every function: INFO by default, the context value otherwise', () => {
    for (const [, fn] of functions) {
      expect(fn.Properties.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('INFO');
    }
    const customFunctions = custom.functions;
    expect(customFunctions).toHaveLength(functions.length);
    for (const [, fn] of customFunctions) {
      expect(fn.Properties.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('DEBUG');
    }
  });

  it('traces every function, the API stage and the state machine with X-Ray', () => {
    for (const [, fn] of functions) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
    });
  });

  it('logs API errors for every method, without request or response data', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ],
    });
  });
});

describe('monitoring config', () => {
  it('defaults to INFO logs, no email, 10 minutes of unclaimed task and 5% 5xx', () => {
    expect(readConfig(newApp({}).node)).toMatchObject({
      logLevel: 'INFO',
      alarms: { email: undefined, oldestTaskAgeSeconds: 600, api5xxPercent: 5 },
    });
  });
});
