import { describe, expect, it } from 'vitest';
import { toFeedChanges } from '../../core/adapters/dynamodb/stream.js';
import { MetricName } from '../../core/metrics.js';
import type { StoredStep } from '../../core/ports.js';
import type { Execution } from '../../core/schemas/execution.js';
import { EventDetailType, executionOutcome, stepOutcome } from '../../core/status-events.js';

const execution = (status: Execution['status']): Execution => ({
  id: '11111111-1111-4111-8111-111111111111',
  scheduleId: '22222222-2222-4222-8222-222222222222',
  scheduleName: 'Nightly',
  status,
  currentStepIndex: 0,
  totalSteps: 2,
  queuedAt: '2026-04-05T06:00:00.000Z',
  startedAt: null,
  completedAt: null,
  initiatedByType: 'NotSet',
  initiatedById: null,
  initiatedByName: 'Cron 0 6 * * * (UTC)',
  errorMessage: null,
  overlapPolicy: 'Skip',
  scheduledFor: '2026-04-05T06:00:00.000Z',
  cancelledById: null,
  cancelledByName: null,
  retryOfExecutionId: null,
  retriedByExecutionId: null,
});

const step = (status: StoredStep['status'], times = true): StoredStep =>
  ({
    executionId: '11111111-1111-4111-8111-111111111111',
    ordinal: 1,
    stepId: '33333333-3333-4333-8333-333333333333',
    stepIndex: 1,
    name: 'Export',
    stepType: 'SqlScript',
    workerPool: 'default',
    status,
    startedAt: times ? '2026-04-05T06:00:10.000Z' : null,
    completedAt: times && status !== 'Processing' ? '2026-04-05T06:01:40.500Z' : null,
    errorMessage: status === 'Failed' ? 'deadlock victim' : null,
    activityStatus: null,
  }) as unknown as StoredStep;

describe('executionOutcome', () => {
  it.each([
    [undefined, 'Queued', MetricName.ExecutionsQueued],
    ['Queued', 'InProgress', MetricName.ExecutionsStarted],
    ['Paused', 'InProgress', undefined],
    ['InProgress', 'Paused', undefined],
    ['InProgress', 'Completed', MetricName.ExecutionsCompleted],
    ['InProgress', 'Failed', MetricName.ExecutionsFailed],
    ['Queued', 'Cancelled', MetricName.ExecutionsCancelled],
  ] as const)('%s → %s publishes the change and counts %s', (from, to, metric) => {
    const outcome = executionOutcome({ before: from && execution(from), after: execution(to) });

    expect(outcome.metric).toBe(metric);
    expect(outcome.event).toEqual({
      detailType: EventDetailType.ExecutionStatusChange,
      detail: { ...execution(to), previousStatus: from ?? null, eventKey: `${execution(to).id}:${to}` },
    });
  });

  it('says nothing when the status did not change (a step moved, a field was set)', () => {
    expect(executionOutcome({ before: execution('InProgress'), after: execution('InProgress') })).toEqual({});
  });

  it('says nothing of a removal (retention)', () => {
    expect(executionOutcome({ before: execution('Completed') })).toEqual({});
  });
});

describe('stepOutcome', () => {
  it.each(['Completed', 'Failed'] as const)(
    "tells nothing of a retry's carried-over %s step: it ended in the original",
    (status) => {
      expect(stepOutcome({ after: { ...step(status), carriedOver: true } })).toBeUndefined();
      expect(stepOutcome({ after: { ...step(status), carriedOver: false } })).toBeDefined();
    },
  );

  it('reports a failed step with its duration and an event', () => {
    const outcome = stepOutcome({ before: step('Processing'), after: step('Failed') });

    expect(outcome).toMatchObject({ stepType: 'SqlScript', failed: true, durationSeconds: 90.5 });
    expect(outcome?.event).toMatchObject({
      detailType: EventDetailType.StepFailed,
      detail: {
        name: 'Export',
        status: 'Failed',
        errorMessage: 'deadlock victim',
        eventKey: expect.any(String),
      },
    });
  });

  it('counts Completed with Error as failed, Completed with Warning and Cancelled as not', () => {
    expect(stepOutcome({ before: step('Processing'), after: step('Completed with Error') })?.failed).toBe(
      true,
    );
    expect(stepOutcome({ before: step('Processing'), after: step('Completed with Warning') })?.failed).toBe(
      false,
    );
    const cancelled = stepOutcome({ before: step('Processing'), after: step('Cancelled') });
    expect(cancelled?.failed).toBe(false);
    expect(cancelled).not.toHaveProperty('event');
  });

  it('has no duration for a step that never started, and nothing for moves that are not an end', () => {
    expect(stepOutcome({ before: step('Pending', false), after: step('Cancelled', false) })).toEqual({
      stepType: 'SqlScript',
      failed: false,
    });
    expect(stepOutcome({ before: step('Queued'), after: step('Processing') })).toBeUndefined();
    expect(stepOutcome({ before: step('Failed'), after: step('Failed') })).toBeUndefined();
  });
});

describe('toFeedChanges', () => {
  const tables = { executions: 'svc-Executions-ABC', executionSteps: 'svc-ExecutionSteps-DEF' };
  const arn = (table: string) =>
    `arn:aws:dynamodb:eu-west-2:123456789012:table/${table}/stream/2026-04-05T06:00:00.000`;

  it('reads a TTL removal as AWS delivers it to Lambda', () => {
    // The record shape Lambda passes for an item TTL deleted (userIdentity names the DynamoDB service).
    const record = {
      eventID: 'c81e728d9d4c2f636f067f89cc14862c',
      eventName: 'REMOVE',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'eu-west-2',
      dynamodb: {
        ApproximateCreationDateTime: 1775368800,
        Keys: { id: { S: execution('Completed').id } },
        OldImage: {
          id: { S: execution('Completed').id },
          scheduleId: { S: execution('Completed').scheduleId },
          status: { S: 'Completed' },
          expiresAt: { N: '1775368000' },
          kQueued: { S: 'index key, not an execution field' },
        },
        SequenceNumber: '4421584500000000017450439091',
        SizeBytes: 120,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      eventSourceARN: arn(tables.executions),
    };

    const [change, ...others] = toFeedChanges([record as never], tables);

    expect(others).toEqual([]);
    expect(change?.table).toBe('executions');
    expect(change?.change.after).toBeUndefined();
    expect(change?.change.before).toMatchObject({ id: execution('Completed').id, status: 'Completed' });
    expect(change?.change.before).not.toHaveProperty('kQueued');
  });

  it('skips records of other tables', () => {
    const record = {
      eventName: 'INSERT',
      dynamodb: { NewImage: { id: { S: 'x' } } },
      eventSourceARN: arn('other'),
    };
    expect(toFeedChanges([record as never], tables)).toEqual([]);
  });
});
