import { describe, expect, it } from 'vitest';
import { decideOverlap, runsOneAtATime, superseded } from '../../core/overlap.js';
import type { Execution } from '../../core/schemas/execution.js';

const execution = (id: string, queuedAt: string): Execution => ({
  id,
  scheduleId: '22222222-2222-4222-8222-222222222222',
  scheduleName: 'Nightly',
  status: 'Queued',
  currentStepIndex: 0,
  totalSteps: 1,
  queuedAt,
  startedAt: null,
  completedAt: null,
  initiatedByType: 'ApiKey',
  initiatedById: 'k',
  initiatedByName: 'key',
  errorMessage: null,
  overlapPolicy: 'CancelOther',
  scheduledFor: null,
  cancelledById: null,
  cancelledByName: null,
  retryOfExecutionId: null,
  retriedByExecutionId: null,
});

describe('overlap policy', () => {
  it('refuses only under Skip and a full BufferOne; AllowAll starts; CancelOther always supersedes', () => {
    // Act
    const decisions = (active: number) =>
      (['Skip', 'BufferOne', 'AllowAll', 'CancelOther'] as const).map((p) => decideOverlap(p, active));

    // Assert
    expect(decisions(0)).toEqual(['Start', 'Start', 'Start', 'StartAndSupersede']);
    expect(decisions(1)).toEqual(['Refuse', 'Start', 'Start', 'StartAndSupersede']);
    expect(decisions(2)).toEqual(['Refuse', 'Refuse', 'Start', 'StartAndSupersede']);
  });

  it('decides runs one at a time only for the policies that may refuse', () => {
    // Act
    const exclusive = (['Skip', 'BufferOne', 'AllowAll', 'CancelOther'] as const).filter(runsOneAtATime);

    // Assert
    expect(exclusive).toEqual(['Skip', 'BufferOne']);
  });

  it('supersedes every active execution but the newest, ties of queue time broken by id, whatever the order seen', () => {
    // Arrange
    const older = execution('a', '2026-04-05T06:00:00.000Z');
    const sameTimeLowId = execution('b', '2026-04-05T06:00:01.000Z');
    const sameTimeHighId = execution('c', '2026-04-05T06:00:01.000Z');

    // Act
    const views = [
      [older, sameTimeLowId, sameTimeHighId],
      [sameTimeHighId, older, sameTimeLowId],
      [sameTimeLowId, sameTimeHighId, older],
    ].map((view) => superseded(view).map((e) => e.id));

    // Assert
    for (const losers of views) expect(losers).toEqual(['a', 'b']);
    expect(superseded([older])).toEqual([]);
  });
});
