import { MetricName } from './metrics.js';
import { ExecutionStatus, type StepType } from './model.js';
import type { RecordChange, ServiceEvent, StoredStep } from './ports.js';
import type { Execution } from './schemas/execution.js';
import { FAILED_STEP_STATUSES, isTerminalStepStatus } from './transitions.js';

/**
 * What a committed change means to the outside world: the EventBridge events consumers wire
 * notifications to, and the metrics the dashboard reads. Derived from the tables' streams, so every
 * change is reported once it is committed, whichever code path made it (API, state machine,
 * reconciler, dispatcher), and nothing is reported that did not happen.
 */

export const EventDetailType = {
  /** Every status an execution takes, its creation (Queued) included. */
  ExecutionStatusChange: 'Schedule Execution Status Change',
  /** A step that ended Failed or Completed with Error. */
  StepFailed: 'Schedule Execution Step Failed',
} as const;

const EXECUTION_STATUS_METRIC: Partial<Record<ExecutionStatus, MetricName>> = {
  [ExecutionStatus.Completed]: MetricName.ExecutionsCompleted,
  [ExecutionStatus.Failed]: MetricName.ExecutionsFailed,
  [ExecutionStatus.Cancelled]: MetricName.ExecutionsCancelled,
};

export interface ExecutionOutcome {
  event?: ServiceEvent;
  metric?: MetricName;
}

/** The event and metric of a change to an execution; nothing when its status did not change. */
export function executionOutcome({ before, after }: RecordChange<Execution>): ExecutionOutcome {
  if (!after || before?.status === after.status) return {};
  const event: ServiceEvent = {
    detailType: EventDetailType.ExecutionStatusChange,
    detail: {
      // Stable across redeliveries of the same change: consumers can deduplicate on it.
      eventKey: `${after.id}:${after.status}`,
      previousStatus: before?.status ?? null,
      ...after,
    },
  };
  const metric = !before
    ? MetricName.ExecutionsQueued
    : after.status === ExecutionStatus.InProgress && before.status === ExecutionStatus.Queued
      ? MetricName.ExecutionsStarted
      : EXECUTION_STATUS_METRIC[after.status];
  return metric ? { event, metric } : { event };
}

export interface StepOutcome {
  stepType: StepType;
  /** Seconds from start to end, when the step ran. */
  durationSeconds?: number;
  failed: boolean;
  event?: ServiceEvent;
}

/**
 * What a step's end means; undefined unless the change is the step ending. A retry's carried-over
 * step is written ended, but it ended in the original, whose change already told of it.
 */
export function stepOutcome({ before, after }: RecordChange<StoredStep>): StepOutcome | undefined {
  if (!after || !isTerminalStepStatus(after.status) || (before && isTerminalStepStatus(before.status))) {
    return undefined;
  }
  if (after.carriedOver) return undefined;
  const failed = FAILED_STEP_STATUSES.includes(after.status);
  const ran = after.startedAt && after.completedAt;
  return {
    stepType: after.stepType,
    failed,
    ...(ran
      ? {
          durationSeconds:
            (Date.parse(after.completedAt as string) - Date.parse(after.startedAt as string)) / 1000,
        }
      : {}),
    ...(failed
      ? {
          event: {
            detailType: EventDetailType.StepFailed,
            detail: {
              eventKey: `${after.executionId}:${after.ordinal}:${after.status}`,
              executionId: after.executionId,
              stepId: after.stepId,
              stepIndex: after.stepIndex,
              name: after.name,
              stepType: after.stepType,
              workerPool: after.workerPool,
              status: after.status,
              activityStatus: after.activityStatus,
              errorMessage: after.errorMessage,
              startedAt: after.startedAt,
              completedAt: after.completedAt,
            },
          },
        }
      : {}),
  };
}
