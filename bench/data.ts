import { ExecutionStatus, InitiatedByType, StepStatus, StepType } from '../core/model.js';
import type { ExecutionStepRecord } from '../core/ports.js';
import type { Execution } from '../core/schemas/execution.js';
import type { Schedule, ScheduleInput } from '../core/schemas/schedule.js';
import { snapshotSteps } from '../core/services/schedules.js';
import { countStages } from '../core/stages.js';

/**
 * The benchmark's data, deterministic: execution `i` is always the same execution (same id, schedule,
 * times, status), so a run at 100,000 holds the 10,000 of the smaller run plus older history.
 */

export const SCHEDULE_COUNT = 20;
/** Share of all executions that belong to the busiest schedule (the one filtered on). */
export const HOT_SHARE = 0.25;
/** Execution `i` was queued `i` intervals before the newest one. */
const INTERVAL_MS = 5 * 60_000;
const NEWEST = Date.parse('2026-06-30T12:00:00.000Z');

/** Deterministic pseudo-random numbers in [0, 1) from a seed (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A GUID derived from a number, so ids need not be kept between runs. */
export function guid(kind: number, n: number): string {
  const next = random(kind * 1_000_003 + n);
  const hex = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

export function scheduleInput(n: number): ScheduleInput {
  const name = `Bench schedule ${String(n + 1).padStart(2, '0')}`;
  return {
    name,
    description: n === 0 ? 'The busiest schedule (every 5 minutes)' : 'Nightly identity sync',
    triggerType: 'Cron',
    cronExpression: n === 0 ? '*/5 * * * *' : `${n} 2 * * *`,
    timeZone: 'Europe/London',
    isEnabled: false,
    overlapPolicy: 'Skip',
    catchupWindowSeconds: 300,
    steps: [
      {
        name: 'Import HR',
        stepType: StepType.RunProfile,
        connectedSystemId: 1,
        runProfileName: 'Full Import',
        executionMode: 'Sequential',
        continueOnFailure: false,
        timeoutSeconds: 3600,
        workerPool: 'default',
      },
      {
        name: 'Tidy up',
        stepType: StepType.PowerShell,
        scriptPath: 'C:\\scripts\\tidy.ps1',
        arguments: '-Verbose',
        executionMode: 'Sequential',
        continueOnFailure: true,
        timeoutSeconds: 600,
        workerPool: 'default',
      },
      {
        name: 'Report',
        stepType: StepType.SqlScript,
        sqlConnection: 'reporting',
        sqlScriptPath: 'reports\\daily.sql',
        executionMode: 'Sequential',
        continueOnFailure: false,
        timeoutSeconds: 900,
        workerPool: 'sql',
      },
    ],
  };
}

/** Which schedule (index) runs execution `i`: a quarter on schedule 0, the rest spread over the others. */
export function scheduleOf(i: number): number {
  const next = random(i * 7 + 3);
  return next() < HOT_SHARE ? 0 : 1 + Math.floor(next() * (SCHEDULE_COUNT - 1));
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Execution `i` (0 is the newest) and its step rows, finished as real runs finish. */
export function generateExecution(
  i: number,
  schedule: Schedule,
): { execution: Execution; steps: ExecutionStepRecord[] } {
  const next = random(i * 13 + 11);
  const queued = NEWEST - i * INTERVAL_MS - Math.floor(next() * 60_000);
  const started = queued + 500 + Math.floor(next() * 4_000);
  const roll = next();
  const status =
    roll < 0.9 ? ExecutionStatus.Completed : roll < 0.96 ? ExecutionStatus.Failed : ExecutionStatus.Cancelled;
  const byKey = next() < 0.2;
  const id = guid(1, i);
  const ends: number[] = [];
  let at = started;
  for (let n = 0; n < schedule.steps.length; n++) {
    at += 5_000 + Math.floor(next() * 300_000);
    ends.push(at);
  }
  const last = schedule.steps.length - 1;
  const steps = snapshotSteps(schedule.steps).map((snapshot, ordinal): ExecutionStepRecord => {
    const failedHere = ordinal === last && status !== ExecutionStatus.Completed;
    const stepStatus = !failedHere
      ? StepStatus.Completed
      : status === ExecutionStatus.Failed
        ? StepStatus.Failed
        : StepStatus.Cancelled;
    return {
      ...snapshot,
      status: stepStatus,
      taskId: guid(2, i * 100 + ordinal),
      startedAt: iso(ordinal === 0 ? started : (ends[ordinal - 1] as number)),
      completedAt: iso(ends[ordinal] as number),
      errorMessage:
        stepStatus === StepStatus.Failed ? 'SQL error 1205: deadlock victim, rerun the script' : null,
      activityId: `activity-${i}-${ordinal}`,
      activityStatus:
        stepStatus === StepStatus.Completed
          ? 'Complete'
          : stepStatus === StepStatus.Failed
            ? 'FailedWithError'
            : 'Cancelled',
    };
  });
  const execution: Execution = {
    id,
    scheduleId: schedule.id,
    scheduleName: schedule.name,
    status,
    currentStepIndex: status === ExecutionStatus.Completed ? countStages(schedule.steps) : last,
    totalSteps: countStages(schedule.steps),
    queuedAt: iso(queued),
    startedAt: iso(started),
    completedAt: iso(ends[last] as number),
    initiatedByType: byKey ? InitiatedByType.ApiKey : InitiatedByType.NotSet,
    initiatedById: byKey ? 'key-ops' : null,
    initiatedByName: byKey ? 'ops-automation' : null,
    errorMessage: status === ExecutionStatus.Failed ? 'Step Report failed' : null,
    overlapPolicy: schedule.overlapPolicy,
    scheduledFor: byKey ? null : iso(queued),
    cancelledById: status === ExecutionStatus.Cancelled ? 'user-42' : null,
    cancelledByName: status === ExecutionStatus.Cancelled ? 'Ada Operator' : null,
    retryOfExecutionId: null,
    retriedByExecutionId: null,
  };
  return { execution, steps };
}
