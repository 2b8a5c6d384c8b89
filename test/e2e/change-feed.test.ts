import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { METRICS_NAMESPACE, MetricName, SERVICE_NAME } from '../../core/metrics.js';
import { EventDetailType } from '../../core/status-events.js';
import type { LocalStack } from '../../local/stack.js';
import { localTableNames } from '../../local/tables.js';
import { eventually } from '../helpers/eventually.js';
import { type ApiClient, apiClient, startTestStack } from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';

/**
 * The change feed through the local stack: DynamoDB Local's real streams, followed as Lambda's event
 * source mapping would, into the real handler; events land in the local EventBridge. Retention is
 * 2 seconds, so a finished execution's expiry is checked to the second.
 */

let stack: LocalStack;
let admin: ApiClient;
let worker: TestWorker;

/** EMF lines the handlers print (Powertools Metrics writes them to stdout when an invocation ends). */
const emf: Record<string, any>[] = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  // Metrics on, as in Lambda (the local stack keeps them off unless told otherwise).
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    const lines = String(chunk).split('\n');
    for (const line of lines) if (line.includes('"CloudWatchMetrics"')) emf.push(JSON.parse(line));
    // Kept, not echoed: the test output is no place for EMF.
    return lines.some((line) => line.includes('"CloudWatchMetrics"')) ? true : write(chunk, ...rest);
  }) as typeof process.stdout.write;
  stack = await startTestStack({ waitSeconds: 1, retentionSeconds: 2, tablePrefix: 'feed' });
  admin = apiClient(stack);
  const key = await admin.post('/api-keys', { name: 'feed-worker', roles: ['Worker'] });
  worker = new TestWorker(apiClient(stack, key.body.key));
  worker.pools = ['feed'];
});

afterAll(async () => {
  process.stdout.write = write;
  await stack?.stop();
});

const eventsOf = (executionId: string) =>
  stack.events().filter((e) => e.detail.executionId === executionId || e.detail.id === executionId);

describe('change feed', () => {
  it('publishes every status change and the failed step; an expired execution takes its steps and count with it', async () => {
    // Arrange: two stages; the second step fails.
    const schedule = await admin.post('/schedules', {
      name: 'Feed',
      triggerType: 'Manual',
      overlapPolicy: 'AllowAll',
      steps: [
        { name: 'Import', stepType: 'Executable', executablePath: '/bin/true', workerPool: 'feed' },
        { name: 'Export', stepType: 'Executable', executablePath: '/bin/false', workerPool: 'feed' },
      ],
    });

    // Act
    const { executionId } = (await admin.post(`/schedules/${schedule.body.id}/run`)).body;
    const [first] = await worker.claimAtLeast(1);
    await worker.complete(first?.taskId as string, 'Complete');
    const [second] = await worker.claimAtLeast(1);
    await worker.complete(second?.taskId as string, 'FailedWithError', { errorMessage: 'exit code 1' });

    // Assert: the events, in order, as EventBridge received them.
    // The two tables' streams are followed independently: wait for both.
    const events = await eventually(
      async () => eventsOf(executionId),
      (found) =>
        found.some((e) => e.detailType === EventDetailType.StepFailed) &&
        found.some(
          (e) => e.detailType === EventDetailType.ExecutionStatusChange && e.detail.status === 'Failed',
        ),
      30_000,
    );
    expect(events.every((e) => e.source === SERVICE_NAME && e.eventBusName === 'default')).toBe(true);
    const statuses = events
      .filter((e) => e.detailType === EventDetailType.ExecutionStatusChange)
      .map((e) => [e.detail.previousStatus, e.detail.status]);
    expect(statuses).toEqual([
      [null, 'Queued'],
      ['Queued', 'InProgress'],
      ['InProgress', 'Failed'],
    ]);
    const failed = events.filter((e) => e.detailType === EventDetailType.StepFailed);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.detail).toMatchObject({
      executionId,
      name: 'Export',
      stepType: 'Executable',
      status: 'Failed',
      errorMessage: 'exit code 1',
      eventKey: `${executionId}:1:Failed`,
    });
    const ended = events.find(
      (e) => e.detailType === EventDetailType.ExecutionStatusChange && e.detail.status === 'Failed',
    );
    expect(ended?.detail).toMatchObject({
      id: executionId,
      scheduleId: schedule.body.id,
      scheduleName: 'Feed',
      errorMessage: expect.stringContaining('Export'),
    });

    // Assert: it expires `retentionSeconds` after it ended.
    const client = createDocumentClient(stack.dynamo);
    const names = localTableNames('feed');
    const stored = await client.send(
      new GetCommand({ TableName: names.executions, Key: { id: executionId } }),
    );
    const endedAt = Date.parse(stored.Item?.completedAt as string);
    expect(stored.Item?.expiresAt).toBe(Math.floor(endedAt / 1000) + 2);

    // Act: the removal TTL makes (DynamoDB Local's TTL sweep runs too rarely to wait for: AWS takes
    // up to two days anyway), then another run of the schedule.
    await client.send(new DeleteCommand({ TableName: names.executions, Key: { id: executionId } }));
    const { executionId: later } = (await admin.post(`/schedules/${schedule.body.id}/run`)).body;

    // Assert: its steps and its count go with it; the later run is untouched.
    const counted = await eventually(
      async () => (await admin.get(`/schedule-executions?scheduleId=${schedule.body.id}`)).body.totalCount,
      (count) => count === 1,
      30_000,
      250,
    );
    expect(counted).toBe(1);
    expect((await admin.get(`/schedule-executions/${later}`)).status).toBe(200);
    const steps = await eventually(
      async () =>
        (
          await client.send(
            new QueryCommand({
              TableName: names.executionSteps,
              KeyConditionExpression: 'executionId = :id',
              ExpressionAttributeValues: { ':id': executionId },
            }),
          )
        ).Items ?? [],
      (items) => items.length === 0,
      30_000,
    );
    expect(steps).toEqual([]);

    // Assert: the metrics, in CloudWatch's embedded format, under the names the dashboard reads.
    const emitted = (name: string) =>
      emf.filter((line) =>
        line._aws.CloudWatchMetrics.some(
          (m: any) => m.Namespace === METRICS_NAMESPACE && m.Metrics.some((x: any) => x.Name === name),
        ),
      );
    expect(emitted(MetricName.ExecutionsFailed).length).toBeGreaterThanOrEqual(1);
    const [failedStep] = emitted(MetricName.StepsFailed);
    expect(failedStep).toMatchObject({ service: SERVICE_NAME, StepType: 'Executable', StepsFailed: 1 });
    expect(failedStep?._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'StepType']]);
    const durations = emitted(MetricName.StepDuration).map((line) => line.StepDuration);
    expect(durations.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('gives an execution no expiry while it is active, and one from the moment it ends', async () => {
    const schedule = await admin.post('/schedules', {
      name: 'Feed long',
      triggerType: 'Manual',
      steps: [{ name: 'Wait', stepType: 'Executable', executablePath: '/bin/true', workerPool: 'feed-idle' }],
    });
    const { executionId } = (await admin.post(`/schedules/${schedule.body.id}/run`)).body;
    const client = createDocumentClient(stack.dynamo);
    const stored = async () =>
      (
        await client.send(
          new GetCommand({ TableName: localTableNames('feed').executions, Key: { id: executionId } }),
        )
      ).Item;
    await eventually(stored, (item) => item?.status === 'InProgress');
    expect((await stored())?.expiresAt).toBeUndefined();

    const cancelled = await admin.post(`/schedule-executions/${executionId}/cancel`);

    expect((await stored())?.expiresAt).toBe(Math.floor(Date.parse(cancelled.body.completedAt) / 1000) + 2);
  });
});
