import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable, ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TableKey } from '../../core/adapters/dynamodb/tables.js';
import type { FunctionLogLevel } from '../config.js';
import { acknowledgeNag } from '../nag.js';
import { ServiceFunction } from './function.js';

export interface ChangeFeedProps {
  /** The service's tables by key: the streams of executions and executionSteps are read. */
  readonly tables: Readonly<Record<TableKey, ITableV2>>;
  /** Table names and settings every function that builds the services receives. */
  readonly serviceEnvironment: Readonly<Record<string, string>>;
  /** Retention of the function's logs. */
  readonly logRetention: RetentionDays;
  /** `POWERTOOLS_LOG_LEVEL` of the function. */
  readonly logLevel: FunctionLogLevel;
}

/**
 * Follows the Executions and ExecutionSteps streams (`functions/change-feed.ts`): an EventBridge event
 * on the account's default bus for every execution status change and step failure, the execution and
 * step metrics, and the clean-up after TTL removes an execution (its steps, its counters).
 */
export class ChangeFeed extends Construct {
  public readonly function: ServiceFunction;
  /** Batches that kept failing, as their stream positions, for a person to replay (README). */
  public readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ChangeFeedProps) {
    super(scope, id);
    const { tables } = props;
    this.function = new ServiceFunction(this, 'Function', {
      file: 'change-feed',
      description: 'Status events, execution metrics and retention clean-up from the tables streams',
      environment: props.serviceEnvironment,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      timeout: Duration.seconds(60),
    });
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeNag(
      this.deadLetterQueue,
      'SQS3',
      'It is the dead-letter destination of the stream event source mappings (failed batch records); ' +
        'a dead-letter queue of its own would only move them once more.',
    );
    for (const key of ['executions', 'executionSteps'] as const) {
      this.function.addEventSource(
        // TableV2 is an ITable with a stream ARN; the event source grants the stream reads.
        new DynamoEventSource(tables[key] as unknown as ITable, {
          startingPosition: StartingPosition.TRIM_HORIZON,
          batchSize: 100,
          maxBatchingWindow: Duration.seconds(1),
          // A poison record is isolated by halving the batch, then parked after a few tries:
          // the rest of the stream keeps flowing.
          bisectBatchOnError: true,
          retryAttempts: 5,
          onFailure: new SqsDlq(this.deadLetterQueue),
        }),
      );
    }
    // After a TTL removal: the steps are deleted (Query, BatchWriteItem), and the counters are
    // decremented with the removal's marker put (TransactWriteItems of UpdateItem and PutItem).
    this.function.grantData(tables.executionSteps, 'readWrite');
    this.function.grantData(tables.counters, 'readWrite');
    acknowledgeNag(
      this.function,
      'IAM5[Resource::*]',
      'dynamodb:ListStreams (added by the stream event sources) supports no resource-level ' +
        'permissions; the stream reads themselves are scoped to the two streams.',
    );
    const stack = Stack.of(this);
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
      }),
    );
  }
}
