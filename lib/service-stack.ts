import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TABLES, type TableKey } from '../core/adapters/dynamodb/tables.js';
import type { ServiceConfig } from './config.js';
import { ServiceApi } from './constructs/api.js';
import { ChangeFeed } from './constructs/change-feed.js';
import { OperatorConsole } from './constructs/console.js';
import { CronTrigger } from './constructs/cron-trigger.js';
import { DataTables } from './constructs/data.js';
import { ServiceFunction } from './constructs/function.js';
import { ServiceMonitoring } from './constructs/monitoring.js';
import { ExecutionWorkflow } from './constructs/workflow.js';

export interface ServiceStackProps extends StackProps {
  /** Deployment settings, from {@link readConfig}. */
  readonly config: ServiceConfig;
}

/**
 * The whole service in one stack. It only composes constructs; each construct owns one concern.
 * No `env`: the template is account- and region-agnostic, so synth needs no AWS credentials.
 */
export class ServiceStack extends Stack {
  /** The DynamoDB tables. */
  public readonly data: DataTables;
  /** Orchestrator, state machine and the every-minute reconciler. */
  public readonly workflow: ExecutionWorkflow;
  /** Functions, authorizer and REST API. */
  public readonly api: ServiceApi;
  /** The every-minute dispatcher that fires cron schedules. */
  public readonly cronTrigger: CronTrigger;
  /** Status events, execution metrics and retention clean-up from the tables' streams. */
  public readonly changeFeed: ChangeFeed;
  /** Dashboard, alarms and the topic they notify. */
  public readonly monitoring: ServiceMonitoring;
  /** The operator console and the API on one CloudFront origin. */
  public readonly console: OperatorConsole;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.data = new DataTables(this, 'Data', { executionCellIndexes: config.executionCellIndexes });
    this.workflow = new ExecutionWorkflow(this, 'Workflow', {
      tables: this.data.tables,
      logRetention: config.logRetention,
      logLevel: config.logLevel,
      settings: config.orchestrator,
      retentionDays: config.retentionDays,
    });
    this.api = new ServiceApi(this, 'Api', {
      tables: this.data.tables,
      workflow: this.workflow,
      stageName: config.stageName,
      logRetention: config.logRetention,
      logLevel: config.logLevel,
      throttling: config.throttling,
      capacity: config.capacity,
      ...(config.oidc ? { oidc: config.oidc } : {}),
    });

    this.console = new OperatorConsole(this, 'Console', {
      api: this.api.api,
      stageName: config.stageName,
      logRetention: config.logRetention,
      ...(config.oidc ? { oidc: config.oidc } : {}),
    });

    this.cronTrigger = new CronTrigger(this, 'CronTrigger', {
      tables: this.data.tables,
      workflow: this.workflow,
      logRetention: config.logRetention,
      logLevel: config.logLevel,
    });

    this.changeFeed = new ChangeFeed(this, 'ChangeFeed', {
      tables: this.data.tables,
      serviceEnvironment: this.workflow.serviceEnvironment,
      logRetention: config.logRetention,
      logLevel: config.logLevel,
    });

    // Last, so that it watches every function the constructs above created.
    this.monitoring = new ServiceMonitoring(this, 'Monitoring', {
      api: this.api.api,
      stateMachine: this.workflow.stateMachine,
      functions: this.node.findAll().filter((c): c is ServiceFunction => c instanceof ServiceFunction),
      tables: this.data.tables,
      alarms: config.alarms,
      deadLetterQueues: { ChangeFeed: this.changeFeed.deadLetterQueue },
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API' });
    new CfnOutput(this, 'ConsoleUrl', {
      value: this.console.url,
      description:
        'The operator console (and the API under /api/v1 on the same origin); the OIDC redirect URI',
    });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.workflow.stateMachine.stateMachineArn,
      description: 'The execution state machine (one execution per schedule execution, named by its id)',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.monitoring.dashboard.dashboardName}`,
      description: 'The service dashboard in the CloudWatch console',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.monitoring.alarmTopic.topicArn,
      description: 'SNS topic every alarm notifies; subscribe more endpoints to it',
    });
    // Physical names are generated; operators and scripts (e.g. creating the first API key) need them.
    for (const key of Object.keys(TABLES) as TableKey[]) {
      new CfnOutput(this, `${TABLES[key].id}TableName`, {
        value: this.data.tables[key].tableName,
        description: `DynamoDB ${key} table`,
      });
    }
  }
}
