import { randomUUID } from 'node:crypto';
import type { ExecutionStepRecord, ScheduleRecord } from '../../core/ports.js';
import type { Execution } from '../../core/schemas/execution.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import type { Stores } from '../../core/services/index.js';
import { snapshotSteps } from '../../core/services/schedules.js';
import { assignStageIndexes } from '../../core/stages.js';
import { executionRecord, scheduleInput } from '../integration/fixtures.js';

/** Makes a fresh, empty set of stores; `maxRangeCount` is the execution store's range-count cap. */
export type StoresFactory = (options?: { maxRangeCount?: number }) => Promise<Stores>;

/** A stored schedule of the fixture's four steps (three stages), Manual and AllowAll unless told. */
export function scheduleRecord(fields: Partial<ScheduleRecord> = {}): ScheduleRecord {
  const steps = assignStageIndexes(scheduleInput().steps).map((step) => ({
    ...step,
    id: randomUUID(),
  })) as ScheduleStep[];
  return {
    id: randomUUID(),
    name: `Schedule ${randomUUID().slice(0, 8)}`,
    description: null,
    triggerType: 'Manual',
    cronExpression: null,
    timeZone: 'UTC',
    isEnabled: true,
    overlapPolicy: 'AllowAll',
    catchupWindowSeconds: 0,
    nextRunTime: null,
    lastRunTime: null,
    skippedCount: 0,
    missedCount: 0,
    stepCount: steps.length,
    created: '2026-04-05T05:00:00.000Z',
    lastUpdated: '2026-04-05T05:00:00.000Z',
    lastExecutionId: null,
    steps,
    version: 1,
    ...fields,
  };
}

/** Stores a fresh {@link scheduleRecord} (with `fields`) and answers it. */
export async function storedSchedule(
  stores: Stores,
  fields: Partial<ScheduleRecord> = {},
): Promise<ScheduleRecord> {
  const schedule = scheduleRecord(fields);
  await stores.schedules.create(schedule);
  return schedule;
}

/** Execution `i` of the schedule, with a fresh id (tables may be shared), and its Pending step rows. */
export function runOf(
  schedule: ScheduleRecord,
  i: number,
  fields: Partial<Execution> = {},
): { execution: Execution; steps: ExecutionStepRecord[] } {
  return {
    execution: executionRecord(i, {
      id: randomUUID(),
      scheduleId: schedule.id,
      scheduleName: schedule.name,
      overlapPolicy: schedule.overlapPolicy,
      status: 'Queued',
      ...fields,
    }),
    steps: snapshotSteps(schedule.steps),
  };
}

/** Records execution `i` of the schedule as a run decided one at a time would (Queued, exclusive). */
export async function recordRun(
  stores: Stores,
  schedule: ScheduleRecord,
  i: number,
  fields: Partial<Execution> = {},
): Promise<Execution> {
  const { execution, steps } = runOf(schedule, i, fields);
  const current = (await stores.schedules.get(schedule.id)) as ScheduleRecord;
  await stores.executions.create(execution, steps, {
    version: current.version,
    exclusive: true,
    lastRunTime: execution.queuedAt,
  });
  return execution;
}
