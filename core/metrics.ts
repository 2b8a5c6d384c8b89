/**
 * The service's own CloudWatch metrics, spelled once: the handlers emit them (Powertools Metrics,
 * EMF) and the dashboard and alarms read them. Powertools adds the dimension `service` (the service
 * name) to every metric, so a reader must name it too.
 */

import type { ValueOf } from './enum.js';

export const METRICS_NAMESPACE = 'ScheduleExecutionService';

/** The value of the `service` dimension (also POWERTOOLS_SERVICE_NAME in every function). */
export const SERVICE_NAME = 'schedule-execution-service';

export const MetricName = {
  /** Count: executions that reached each status (from the Executions table's stream). */
  ExecutionsQueued: 'ExecutionsQueued',
  ExecutionsStarted: 'ExecutionsStarted',
  ExecutionsCompleted: 'ExecutionsCompleted',
  ExecutionsFailed: 'ExecutionsFailed',
  ExecutionsCancelled: 'ExecutionsCancelled',
  /** Seconds from a step's start to its end, dimension StepType (from the ExecutionSteps stream). */
  StepDuration: 'StepDuration',
  /** Count: steps that ended Failed or Completed with Error, dimension StepType. */
  StepsFailed: 'StepsFailed',
  /** Gauge, each minute (reconciler): Queued, InProgress and Paused executions. */
  ActiveExecutions: 'ActiveExecutions',
  /** Gauge, each minute (reconciler): seconds the oldest worker task has waited for a worker; 0 when none. */
  OldestUnclaimedTaskAge: 'OldestUnclaimedTaskAge',
  /** Count per run (reconciler): items it could not handle (they are retried by the next run). */
  ReconcileFailures: 'ReconcileFailures',
  /** Milliseconds from a cron fire time to its execution being queued (dispatcher), per fire. */
  DispatchLag: 'DispatchLag',
  /** Count per tick (dispatcher). */
  SchedulesFired: 'SchedulesFired',
  SchedulesSkipped: 'SchedulesSkipped',
  FireTimesMissed: 'FireTimesMissed',
  /** Count per tick: schedules that could not be fired (they stay due) or were left for the next tick. */
  DispatchFailures: 'DispatchFailures',
  DispatchDeferred: 'DispatchDeferred',
} as const;
export type MetricName = ValueOf<typeof MetricName>;

export const MetricDimension = {
  Service: 'service',
  StepType: 'StepType',
} as const;
