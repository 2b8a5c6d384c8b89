import { ExecutionStatus, type Initiator } from '../../core/model.js';
import type { Clock } from '../../core/ports.js';
import type { Execution, ListExecutionsQuery } from '../../core/schemas/execution.js';
import { ScheduleInput } from '../../core/schemas/schedule.js';
import { isActiveExecutionStatus } from '../../core/transitions.js';

/** A clock the test moves by hand, so every queuedAt, created and completedAt is known. */
export class TestClock implements Clock {
  private current: number;

  constructor(start: string | Date = '2026-03-01T09:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(to: string | Date): void {
    this.current = new Date(to).getTime();
  }

  /** Moves the clock on and returns the new time. */
  advance(milliseconds: number): Date {
    this.current += milliseconds;
    return this.now();
  }
}

export const MINUTE = 60_000;

/** A page of `pageSize` executions in the listing's default order (newest queued first), as `overrides` change it. */
export const executionsQuery = (
  pageSize: number,
  overrides: Partial<ListExecutionsQuery> = {},
): ListExecutionsQuery => ({ pageSize, sortBy: 'queuedAt', sortDescending: true, ...overrides });

/** Each of the sort keys, descending and ascending: the sorts a listing test runs through. */
export const bothWays = <K extends string>(keys: readonly K[]) =>
  keys.flatMap((sortBy) => [true, false].map((sortDescending) => ({ sortBy, sortDescending })));

export const operator: Initiator = { type: 'ApiKey', id: 'key-ops', name: 'ops-automation' };
export const canceller: Initiator = { type: 'User', id: 'user-42', name: 'Ada Operator' };

/** A schedule input as the API would pass it to the service (defaults applied by the schema). */
export function scheduleInput(overrides: Record<string, unknown> = {}): ScheduleInput {
  return ScheduleInput.parse({
    name: 'Nightly HR sync',
    description: 'Imports HR, syncs, exports to AD',
    triggerType: 'Manual',
    steps: [
      { name: 'Import HR', stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Full Import' },
      {
        name: 'Import AD',
        stepType: 'RunProfile',
        connectedSystemId: 2,
        runProfileName: 'Delta Import',
        executionMode: 'ParallelWithPrevious',
      },
      { name: 'Tidy', stepType: 'PowerShell', scriptPath: 'C:\\scripts\\tidy.ps1', arguments: '-Verbose' },
      { name: 'Report', stepType: 'SqlScript', sqlConnection: 'reporting', sqlScriptPath: 'report.sql' },
    ],
    ...overrides,
  });
}

/** The schedule `executionRecord` belongs to unless told otherwise. */
export const ALPHA_SCHEDULE_ID = '5e0c6a1f-2b7d-4c1e-9a8f-0d3b6c2e7f41';

/**
 * Execution record `i` as a store holds it: id and queuedAt follow from `i` (a minute apart from
 * 2026-04-05T06:00Z), started unless Queued, completed once finished; any field can be overridden.
 */
export function executionRecord(i: number, fields: Partial<Execution> = {}): Execution {
  const status = fields.status ?? ExecutionStatus.Queued;
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    scheduleId: ALPHA_SCHEDULE_ID,
    scheduleName: 'Alpha',
    status,
    overlapPolicy: 'AllowAll',
    currentStepIndex: 0,
    totalSteps: 1,
    queuedAt: new Date(Date.parse('2026-04-05T06:00:00.000Z') + i * MINUTE).toISOString(),
    startedAt: status === ExecutionStatus.Queued ? null : '2026-04-05T06:00:01.000Z',
    completedAt: isActiveExecutionStatus(status) ? null : '2026-04-05T07:00:00.000Z',
    initiatedByType: 'ApiKey',
    initiatedById: null,
    initiatedByName: null,
    errorMessage: null,
    scheduledFor: null,
    cancelledById: null,
    cancelledByName: null,
    retryOfExecutionId: null,
    retriedByExecutionId: null,
    ...fields,
  };
}
