import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../core/errors.js';
import { IDEMPOTENCY_WINDOW_SECONDS } from '../../core/idempotency.js';
import type { OverlapPolicy } from '../../core/model.js';
import { MAX_STEPS, type Schedule } from '../../core/schemas/schedule.js';
import { canceller, operator, scheduleInput } from './fixtures.js';
import {
  beforeFirstPutIn,
  executionsOf as executionsOfSchedule,
  type FreshServices,
  servicesOnFreshTables,
} from './services.js';

describe('ScheduleService.run with an idempotency key', () => {
  let fresh: FreshServices;

  beforeEach(async () => {
    fresh = await servicesOnFreshTables();
  });

  const withPolicy = (overlapPolicy: OverlapPolicy, name = 'Nightly HR sync') =>
    fresh.services.schedules.create(scheduleInput({ overlapPolicy, name }));
  const executionsOf = (schedule: Schedule) => executionsOfSchedule(fresh.services, schedule);

  it('replays the first run for the same key: one execution, the same id, marked as a replay', async () => {
    // Arrange
    const schedule = await withPolicy('AllowAll');
    const first = await fresh.services.schedules.run(schedule.id, operator, 'order-42');

    // Act
    const again = await fresh.services.schedules.run(schedule.id, operator, 'order-42');

    // Assert
    expect(first).toEqual({
      executionId: expect.any(String),
      status: 'Queued',
      message: 'Execution queued.',
    });
    expect(again).toEqual({ ...first, replayed: true });
    expect((await executionsOf(schedule)).map((e) => e.id)).toEqual([first.executionId]);
    expect(fresh.workflow.calledWith('start')).toEqual([[first.executionId]]);
  });

  it('makes exactly one execution of 20 concurrent same-key runs of an AllowAll schedule', async () => {
    // Arrange
    const schedule = await withPolicy('AllowAll');

    // Act
    const results = await Promise.all(
      Array.from({ length: 20 }, () => fresh.services.schedules.run(schedule.id, operator, 'burst')),
    );

    // Assert: every request gets the one run's response, all but one as a replay.
    const executions = await executionsOf(schedule);
    expect(executions).toHaveLength(1);
    expect(new Set(results.map((r) => r.executionId))).toEqual(new Set([executions[0]?.id]));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(fresh.workflow.calledWith('start')).toHaveLength(1);
  });

  it('runs again for a different key, another caller or another schedule', async () => {
    // Arrange
    const schedule = await withPolicy('AllowAll');
    const other = await withPolicy('AllowAll', 'Other schedule');
    const first = await fresh.services.schedules.run(schedule.id, operator, 'k');

    // Act
    const runs = [
      await fresh.services.schedules.run(schedule.id, operator, 'k2'),
      await fresh.services.schedules.run(schedule.id, canceller, 'k'),
      await fresh.services.schedules.run(other.id, operator, 'k'),
      await fresh.services.schedules.run(schedule.id, operator),
    ];

    // Assert
    for (const run of runs) expect(run.replayed).toBeUndefined();
    const ids = [first, ...runs].map((r) => r.executionId);
    expect(new Set(ids).size).toBe(5);
    expect(await executionsOf(schedule)).toHaveLength(4);
  });

  it('remembers a key for 24 hours of the clock, then runs again', async () => {
    // Arrange
    const schedule = await withPolicy('AllowAll');
    const first = await fresh.services.schedules.run(schedule.id, operator, 'daily');

    // Act
    fresh.clock.advance((IDEMPOTENCY_WINDOW_SECONDS - 1) * 1000);
    const withinWindow = await fresh.services.schedules.run(schedule.id, operator, 'daily');
    fresh.clock.advance(1000);
    const afterWindow = await fresh.services.schedules.run(schedule.id, operator, 'daily');
    const replayOfNew = await fresh.services.schedules.run(schedule.id, operator, 'daily');

    // Assert
    expect(withinWindow).toEqual({ ...first, replayed: true });
    expect(afterWindow.replayed).toBeUndefined();
    expect(afterWindow.executionId).not.toBe(first.executionId);
    expect(replayOfNew).toEqual({ ...afterWindow, replayed: true });
    expect(await executionsOf(schedule)).toHaveLength(2);
  });

  it('replays a Skip run while it is active instead of refusing it as an overlap', async () => {
    // Arrange
    const schedule = await withPolicy('Skip');
    const first = await fresh.services.schedules.run(schedule.id, operator, 'once');

    // Act
    const again = await fresh.services.schedules.run(schedule.id, operator, 'once');

    // Assert
    expect(again).toEqual({ ...first, replayed: true });
  });

  it('does not remember a refused run: the key runs once the overlap is gone', async () => {
    // Arrange
    const schedule = await withPolicy('Skip');
    const blocking = await fresh.services.schedules.run(schedule.id, operator);
    await expect(fresh.services.schedules.run(schedule.id, operator, 'later')).rejects.toBeInstanceOf(
      ConflictError,
    );
    await fresh.services.executions.cancelActive(blocking.executionId, operator);

    // Act
    const run = await fresh.services.schedules.run(schedule.id, operator, 'later');

    // Assert
    expect(run.replayed).toBeUndefined();
    expect(run.executionId).not.toBe(blocking.executionId);
  });

  it('replays the final response of a CancelOther run, naming what it cancelled', async () => {
    // Arrange
    const schedule = await withPolicy('CancelOther');
    const older = await fresh.services.schedules.run(schedule.id, operator);
    fresh.clock.advance(1000);
    const first = await fresh.services.schedules.run(schedule.id, operator, 'replace');

    // Act
    const again = await fresh.services.schedules.run(schedule.id, operator, 'replace');

    // Assert
    expect(first.message).toContain(`cancelled the active execution(s) ${older.executionId}`);
    expect(again).toEqual({ ...first, replayed: true });
  });

  it('frees the key of a withdrawn run, so the retry decides afresh and does not replay it', async () => {
    // Arrange: the keyed run's write races an edit of the policy to Skip, with another run active.
    const schedule = await withPolicy('AllowAll');
    const active = await fresh.services.schedules.run(schedule.id, operator);
    beforeFirstPutIn(fresh.db, fresh.db.tables.idempotencyKeys, () =>
      fresh.services.schedules.replace(schedule.id, scheduleInput({ overlapPolicy: 'Skip' })),
    );
    await expect(fresh.services.schedules.run(schedule.id, operator, 'racing')).rejects.toBeInstanceOf(
      ConflictError,
    );
    await fresh.services.executions.cancelActive(active.executionId, operator);

    // Act
    const retried = await fresh.services.schedules.run(schedule.id, operator, 'racing');

    // Assert
    const withdrawn = (await executionsOf(schedule)).find(
      (e) => e.id !== active.executionId && e.id !== retried.executionId,
    );
    expect(withdrawn?.errorMessage).toContain('Withdrawn');
    expect(retried.replayed).toBeUndefined();
    expect(retried.status).toBe('Queued');
  });

  it('fits a schedule of MAX_STEPS steps and the claim in one transaction', async () => {
    // Arrange
    const step = { name: 's', stepType: 'PowerShell', scriptPath: 'a.ps1' };
    const schedule = await fresh.services.schedules.create(
      scheduleInput({ overlapPolicy: 'Skip', steps: Array(MAX_STEPS).fill(step) }),
    );

    // Act
    const run = await fresh.services.schedules.run(schedule.id, operator, 'big');

    // Assert
    expect((await fresh.services.executions.get(run.executionId)).steps).toHaveLength(MAX_STEPS);
  });
});
