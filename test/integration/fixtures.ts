import type { Initiator } from '../../core/model.js';
import type { Clock } from '../../core/ports.js';
import { ScheduleInput } from '../../core/schemas/schedule.js';

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
