import { beforeEach, describe, expect, it } from 'vitest';
import { ExecutionIndex } from '../../core/adapters/dynamodb/tables.js';
import { ALL_DUE_PARTITIONS, duePartitionOf } from '../../core/due-partitions.js';
import { ConflictError } from '../../core/errors.js';
import type { Schedule } from '../../core/schemas/schedule.js';
import { Dispatcher, type DispatchReport } from '../../core/services/dispatcher.js';
import { composeServices, dynamoStores, type Services } from '../../core/services/index.js';
import { FireOutcome } from '../../core/services/schedules.js';
import { recordRequests } from '../helpers/dynamodb.js';
import type { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { MINUTE, operator, scheduleInput, type TestClock } from './fixtures.js';
import {
  executionsOf as executionsOfSchedule,
  type FreshServices,
  servicesOnFreshTables,
  type TestStores,
} from './services.js';

const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('cron dispatch (Dispatcher and ScheduleService.fireDue)', () => {
  let clock: TestClock;
  let workflow: RecordingWorkflow;
  let services: Services;
  let stores: TestStores;
  let fresh: FreshServices;

  beforeEach(async () => {
    fresh = await servicesOnFreshTables('2026-04-05T05:58:30.000Z');
    ({ clock, workflow, services, stores } = fresh);
  });

  const cronSchedule = (overrides: Record<string, unknown> = {}) =>
    services.schedules.create(
      scheduleInput({
        name: `cron ${Math.random()}`,
        triggerType: 'Cron',
        cronExpression: '0 6 * * *',
        isEnabled: true,
        ...overrides,
      }),
    );
  const executionsOf = (schedule: Schedule) => executionsOfSchedule(services, schedule);
  /** Ticks at `time` (the dispatcher reads the clock, never the event). */
  const tickAt = (time: string | Date): Promise<DispatchReport> => {
    clock.set(time);
    return services.dispatcher.tick();
  };

  it('fires an enabled cron schedule once at its fire time: NotSet, scheduledFor, lastRunTime and nextRunTime', async () => {
    // Arrange: 06:00 in London is 05:00 UTC in April (BST).
    clock.set('2026-04-05T04:58:30Z');
    const schedule = await cronSchedule({ timeZone: 'Europe/London' });
    expect(schedule.nextRunTime).toBe('2026-04-05T05:00:00.000Z');
    const early = await tickAt('2026-04-05T04:59:59.999Z');

    // Act
    const report = await tickAt('2026-04-05T05:00:00.250Z');

    // Assert
    expect(early.due).toBe(0);
    expect(report).toMatchObject({
      due: 1,
      started: 1,
      skipped: 0,
      missedFires: 0,
      failed: 0,
      lagsMs: [250],
    });
    const [execution, ...others] = await executionsOf(schedule);
    expect(others).toEqual([]);
    expect(execution).toMatchObject({
      status: 'Queued',
      initiatedByType: 'NotSet',
      initiatedById: null,
      initiatedByName: 'Cron 0 6 * * * (Europe/London)',
      scheduledFor: '2026-04-05T05:00:00.000Z',
      queuedAt: '2026-04-05T05:00:00.250Z',
    });
    expect(workflow.calledWith('start')).toEqual([[execution?.id]]);
    expect(await services.schedules.get(schedule.id)).toMatchObject({
      lastRunTime: '2026-04-05T05:00:00.000Z',
      nextRunTime: '2026-04-06T05:00:00.000Z',
      lastExecutionId: execution?.id,
      lastExecutionStatus: 'Queued',
      skippedCount: 0,
      missedCount: 0,
    });
  });

  it('fires nothing again on a duplicate tick in the same minute', async () => {
    const schedule = await cronSchedule();
    await tickAt('2026-04-05T06:00:01Z');

    const again = await tickAt('2026-04-05T06:00:40Z');

    expect(again.due).toBe(0);
    expect(await executionsOf(schedule)).toHaveLength(1);
  });

  it('fires nothing again from a batch read taken before another dispatcher fired the schedule', async () => {
    const schedule = await cronSchedule();
    const readBefore = await stores.schedules.getMany([schedule.id]);
    clock.set('2026-04-05T06:00:01Z');
    await services.dispatcher.tick();

    const late = await services.schedules.fireDue(schedule.id, readBefore.get(schedule.id));

    // The stale read loses the version condition; the retry reads again and finds it fired.
    expect(late.outcome).toBe(FireOutcome.NotDue);
    expect(await executionsOf(schedule)).toHaveLength(1);
  });

  it('starts exactly one execution per fire time when many dispatchers fire the same schedule at once', async () => {
    // Arrange
    const schedule = await cronSchedule({ overlapPolicy: 'AllowAll' });
    clock.set('2026-04-05T06:00:02Z');

    // Act: ten concurrent fires of the same due schedule.
    const results = await Promise.all(
      Array.from({ length: 10 }, () => services.schedules.fireDue(schedule.id)),
    );

    // Assert
    expect(results.filter((r) => r.outcome === FireOutcome.Started)).toHaveLength(1);
    expect(results.filter((r) => r.outcome === FireOutcome.NotDue)).toHaveLength(9);
    expect(await executionsOf(schedule)).toHaveLength(1);
    expect(workflow.calledWith('start')).toHaveLength(1);
  });

  it('concurrent ticks over many due schedules start one execution for each, no more', async () => {
    // Arrange: 30 schedules due at 06:00, four dispatchers ticking at once.
    const schedules = await Promise.all(Array.from({ length: 30 }, () => cronSchedule()));
    clock.set('2026-04-05T06:00:03Z');
    const dispatchers = Array.from(
      { length: 4 },
      () =>
        new Dispatcher({
          schedules: stores.schedules,
          scheduleService: services.schedules,
          clock,
          settings: { concurrency: 8, budgetMs: 50_000 },
        }),
    );

    // Act
    const reports = await Promise.all(dispatchers.map((d) => d.tick()));

    // Assert
    expect(reports.reduce((sum, r) => sum + r.started, 0)).toBe(30);
    expect(reports.reduce((sum, r) => sum + r.failed, 0)).toBe(0);
    for (const schedule of schedules) expect(await executionsOf(schedule)).toHaveLength(1);
    expect(workflow.calledWith('start')).toHaveLength(30);
  });

  it('dispatchers of their own racing over the same minute, again and again: each fire time runs once and is counted once', async () => {
    // Arrange: 40 daily schedules (AllowAll: each day's run starts though the last is active); four dispatchers, each with stores of its own (so fire batches of
    // its own, as separate functions have), over the same tables. The probe sees which shared
    // transactions (more than one fire: over 9 items) went through and which were cancelled.
    const { db } = fresh;
    const batches = { written: 0, cancelled: 0 };
    db.client.middlewareStack.add(
      (next, context) => async (args) => {
        const items = (args.input as { TransactItems?: unknown[] }).TransactItems?.length ?? 0;
        if (context.commandName !== 'TransactWriteItemsCommand' || items <= 9) return next(args);
        try {
          const answer = await next(args);
          batches.written += 1;
          return answer;
        } catch (error) {
          batches.cancelled += 1;
          throw error;
        }
      },
      { step: 'initialize', name: 'batchProbe' },
    );
    const schedules = await Promise.all(
      Array.from({ length: 40 }, () => cronSchedule({ overlapPolicy: 'AllowAll' })),
    );
    const dispatchers = Array.from({ length: 4 }, () => {
      const own = dynamoStores(db.client, db.tables);
      return new Dispatcher({
        schedules: own.schedules,
        scheduleService: composeServices(own, { clock, workflow }).schedules,
        clock,
        settings: { concurrency: 8, budgetMs: 50_000 },
      });
    });

    for (let day = 0; day < 3; day++) {
      // Act: the four tick the same fire time at once.
      clock.set(new Date(Date.parse('2026-04-05T06:00:02Z') + day * DAY));
      const reports = await Promise.all(dispatchers.map((d) => d.tick()));

      // Assert: one run per schedule per day, each started once and counted once.
      expect(reports.reduce((sum, r) => sum + r.started, 0)).toBe(40);
      expect(reports.reduce((sum, r) => sum + r.failed, 0)).toBe(0);
      expect(workflow.calledWith('start')).toHaveLength(40 * (day + 1));
      for (const schedule of schedules) expect(await executionsOf(schedule)).toHaveLength(day + 1);
      const listed = await services.executions.list({
        pageSize: 1,
        sortBy: 'queuedAt',
        sortDescending: true,
      });
      expect(listed.totalCount).toBe(40 * (day + 1));
    }
    // The shared path was taken, and lost races that its fires then settled alone.
    expect(batches.written).toBeGreaterThan(0);
    expect(batches.cancelled).toBeGreaterThan(0);
  });

  it('a tick of one due partition fires only that partition; the partitions together fire all', async () => {
    const schedules = await Promise.all(Array.from({ length: 12 }, () => cronSchedule()));
    clock.set('2026-04-05T06:00:01Z');

    const reports = [];
    for (const partition of ALL_DUE_PARTITIONS) {
      const report = await services.dispatcher.tick([partition]);
      reports.push(report);
      expect(report.due).toBe(schedules.filter((s) => duePartitionOf(s.id) === partition).length);
    }

    expect(reports.reduce((n, r) => n + r.started, 0)).toBe(12);
  });

  it('never fires Manual or disabled schedules, and disabling takes a schedule out of the due index', async () => {
    const manual = await services.schedules.create(scheduleInput({ name: 'manual', isEnabled: true }));
    const disabled = await cronSchedule({ isEnabled: false });
    const enabled = await cronSchedule();
    await services.schedules.setEnabled(enabled.id, false);

    const report = await tickAt('2026-04-05T06:00:01Z');

    expect(report.due).toBe(0);
    expect(manual.nextRunTime).toBeNull();
    expect(disabled.nextRunTime).toBeNull();
    for (const s of [manual, disabled, enabled]) expect(await executionsOf(s)).toEqual([]);
  });

  it('re-enabling computes the next fire time from now: the disabled period is not counted as missed', async () => {
    const schedule = await cronSchedule();
    await services.schedules.setEnabled(schedule.id, false);
    clock.set('2026-04-09T12:00:00Z');

    const enabled = await services.schedules.setEnabled(schedule.id, true);

    expect(enabled).toMatchObject({ nextRunTime: '2026-04-10T06:00:00.000Z', missedCount: 0 });
  });

  it('an edit while due moves the fire time: the old one does not fire', async () => {
    const schedule = await cronSchedule();
    clock.set('2026-04-05T05:59:50Z');
    await services.schedules.replace(
      schedule.id,
      scheduleInput({
        name: schedule.name,
        triggerType: 'Cron',
        cronExpression: '30 6 * * *',
        isEnabled: true,
      }),
    );

    const at0600 = await tickAt('2026-04-05T06:00:01Z');
    const at0630 = await tickAt('2026-04-05T06:30:01Z');

    expect(at0600.due).toBe(0);
    expect(at0630.started).toBe(1);
    expect((await executionsOf(schedule)).map((e) => e.scheduledFor)).toEqual(['2026-04-05T06:30:00.000Z']);
  });

  describe('overlap policy on cron fires', () => {
    /** Fires at 06:00, 06:01 and 06:02 (every minute) with the first execution still active. */
    const threeFires = async (overlapPolicy: string) => {
      clock.set('2026-04-05T05:59:30Z');
      const schedule = await cronSchedule({ cronExpression: '* * * * *', overlapPolicy });
      const reports = [];
      for (const time of ['2026-04-05T06:00:01Z', '2026-04-05T06:01:01Z', '2026-04-05T06:02:01Z']) {
        reports.push(await tickAt(time));
      }
      return { schedule, reports, executions: await executionsOf(schedule) };
    };

    it('Skip: later fires are skipped and counted while one is active', async () => {
      const { schedule, executions } = await threeFires('Skip');

      expect(executions.map((e) => e.status)).toEqual(['Queued']);
      expect(await services.schedules.get(schedule.id)).toMatchObject({
        skippedCount: 2,
        missedCount: 0,
        lastRunTime: '2026-04-05T06:00:00.000Z',
        nextRunTime: '2026-04-05T06:03:00.000Z',
      });
    });

    it('BufferOne: one more waits Queued, the third is skipped', async () => {
      const { schedule, executions } = await threeFires('BufferOne');

      expect(executions.map((e) => [e.status, e.scheduledFor])).toEqual([
        ['Queued', '2026-04-05T06:00:00.000Z'],
        ['Queued', '2026-04-05T06:01:00.000Z'],
      ]);
      expect((await services.schedules.get(schedule.id)).skippedCount).toBe(1);
    });

    it('AllowAll: every fire starts one', async () => {
      const { executions } = await threeFires('AllowAll');

      expect(executions).toHaveLength(3);
    });

    it('CancelOther: each fire cancels the active one, recorded as cancelled by the cron trigger', async () => {
      const { executions } = await threeFires('CancelOther');

      expect(executions.map((e) => e.status)).toEqual(['Cancelled', 'Cancelled', 'Queued']);
      expect(executions[0]).toMatchObject({ cancelledById: null, cancelledByName: 'Cron * * * * * (UTC)' });
    });

    it('a fire reads the active executions only under a policy that may refuse it (Skip, BufferOne)', async () => {
      const sent = recordRequests(fresh.db.client);
      const queries = {} as Record<string, number>;
      for (const overlapPolicy of ['Skip', 'BufferOne', 'AllowAll', 'CancelOther']) {
        sent.length = 0;
        await threeFires(overlapPolicy);
        queries[overlapPolicy] = sent.filter(
          (r) => r.command === 'QueryCommand' && r.input.IndexName === ExecutionIndex.scheduleByStatus,
        ).length;
      }

      // Skip and BufferOne decide each fire on its Query; AllowAll never queries; CancelOther only
      // once recorded, to supersede (3 fires), and in its 2 cancels. Before, each fire read first.
      expect(queries).toEqual({ Skip: 3, BufferOne: 3, AllowAll: 0, CancelOther: 5 });
    });

    it('a manual run while a cron run is active obeys the same policy (409 for Skip)', async () => {
      const { schedule } = await threeFires('Skip');

      await expect(services.schedules.run(schedule.id, operator)).rejects.toBeInstanceOf(ConflictError);
    });
  });

  describe('catch-up after an outage', () => {
    it('runs the latest missed fire time when it is within the window and counts the older ones', async () => {
      // Every 15 minutes; the trigger is down from 05:58:30 until 07:04.
      const schedule = await cronSchedule({ cronExpression: '*/15 * * * *', catchupWindowSeconds: 300 });

      const report = await tickAt('2026-04-05T07:04:00Z');

      expect(report).toMatchObject({ started: 1, missedFireTimes: 4 });
      expect((await executionsOf(schedule)).map((e) => e.scheduledFor)).toEqual(['2026-04-05T07:00:00.000Z']);
      expect(await services.schedules.get(schedule.id)).toMatchObject({
        missedCount: 4,
        lastRunTime: '2026-04-05T07:00:00.000Z',
        nextRunTime: '2026-04-05T07:15:00.000Z',
      });
    });

    it('runs nothing after an outage longer than the window, counts every fire time, and resumes on time', async () => {
      // Daily at 06:00, down for three days and ten minutes.
      const schedule = await cronSchedule({ catchupWindowSeconds: 300 });

      const report = await tickAt(new Date(Date.parse('2026-04-07T06:10:00Z')));
      const nextDay = await tickAt('2026-04-08T06:00:01Z');

      expect(report).toMatchObject({ due: 1, started: 0, missedFires: 1, missedFireTimes: 3 });
      expect(nextDay.started).toBe(1);
      expect((await executionsOf(schedule)).map((e) => e.scheduledFor)).toEqual(['2026-04-08T06:00:00.000Z']);
      expect(await services.schedules.get(schedule.id)).toMatchObject({
        missedCount: 3,
        skippedCount: 0,
        nextRunTime: '2026-04-09T06:00:00.000Z',
      });
    });
  });

  describe('across daylight-saving changes, ticking every minute', () => {
    /** Every scheduledFor of the schedule's executions after ticking each minute from `from` for `hours`. */
    const fireTimesWalking = async (
      cronExpression: string,
      timeZone: string,
      from: string,
      hours: number,
    ) => {
      clock.set(from);
      const schedule = await cronSchedule({ cronExpression, timeZone, overlapPolicy: 'AllowAll' });
      for (let t = Date.parse(from); t <= Date.parse(from) + hours * HOUR; t += MINUTE) {
        const report = await tickAt(new Date(t + 1_000));
        expect(report.missedFireTimes).toBe(0);
      }
      // Out of the way of the next walk, which starts months later.
      await services.schedules.setEnabled(schedule.id, false);
      return (await executionsOf(schedule)).map((e) => e.scheduledFor);
    };

    it('Europe/London spring forward: 01:30 runs once at the jump, hourly skips the missing hour', async () => {
      expect(await fireTimesWalking('30 1 * * *', 'Europe/London', '2026-03-29T00:00:00Z', 2)).toEqual([
        '2026-03-29T01:00:00.000Z',
      ]);
      expect(await fireTimesWalking('0 * * * *', 'Europe/London', '2026-03-28T23:30:00Z', 3)).toEqual([
        '2026-03-29T00:00:00.000Z',
        '2026-03-29T01:00:00.000Z',
        '2026-03-29T02:00:00.000Z',
      ]);
    });

    it('Europe/London fall back: 01:30 runs once, hourly runs every real hour', async () => {
      expect(await fireTimesWalking('30 1 * * *', 'Europe/London', '2026-10-25T00:00:00Z', 2)).toEqual([
        '2026-10-25T00:30:00.000Z',
      ]);
      expect(await fireTimesWalking('0 * * * *', 'Europe/London', '2026-10-24T23:30:00Z', 3)).toEqual([
        '2026-10-25T00:00:00.000Z',
        '2026-10-25T01:00:00.000Z',
        '2026-10-25T02:00:00.000Z',
      ]);
    });

    it('America/New_York: 02:30 runs at 03:00 EDT on spring forward, 01:30 once on fall back', async () => {
      expect(await fireTimesWalking('30 2 * * *', 'America/New_York', '2026-03-08T06:00:00Z', 2)).toEqual([
        '2026-03-08T07:00:00.000Z',
      ]);
      expect(await fireTimesWalking('30 1 * * *', 'America/New_York', '2026-11-01T05:00:00Z', 2)).toEqual([
        '2026-11-01T05:30:00.000Z',
      ]);
    });
  });

  it('counts a fire of a schedule without steps as skipped', async () => {
    const schedule = await cronSchedule({ steps: [] });

    const report = await tickAt('2026-04-05T06:00:01Z');

    expect(report).toMatchObject({ started: 0, skipped: 1 });
    expect((await services.schedules.get(schedule.id)).skippedCount).toBe(1);
  });

  it('still records the execution when the state machine cannot be started (the reconciler starts it)', async () => {
    const schedule = await cronSchedule();
    workflow.startError = new Error('Step Functions unavailable');

    const report = await tickAt('2026-04-05T06:00:01Z');

    expect(report.started).toBe(1);
    expect((await executionsOf(schedule)).map((e) => e.status)).toEqual(['Queued']);
  });

  it('leaves due schedules for the next tick once its time budget is spent', async () => {
    const schedule = await cronSchedule();
    const dispatcher = new Dispatcher({
      schedules: stores.schedules,
      scheduleService: services.schedules,
      clock,
      settings: { concurrency: 4, budgetMs: -1 },
    });
    clock.set('2026-04-05T06:00:01Z');

    const spent = await dispatcher.tick();
    const next = await tickAt('2026-04-05T06:01:01Z');

    expect(spent).toMatchObject({ due: 1, deferred: 1, started: 0 });
    expect(next).toMatchObject({ due: 1, started: 1 });
    expect((await executionsOf(schedule)).map((e) => e.scheduledFor)).toEqual(['2026-04-05T06:00:00.000Z']);
  });

  it('a manual run sets lastRunTime to the time it was queued', async () => {
    const schedule = await services.schedules.create(scheduleInput({ name: 'manual' }));
    clock.advance(DAY);

    await services.schedules.run(schedule.id, operator);

    expect((await services.schedules.get(schedule.id)).lastRunTime).toBe(clock.now().toISOString());
  });

  describe('nextRuns', () => {
    it('lists the next fire times in the schedule time zone, for a disabled schedule too', async () => {
      const schedule = await cronSchedule({
        timeZone: 'America/New_York',
        cronExpression: '0 9 * * 1-5',
        isEnabled: false,
      });

      const next = await services.schedules.nextRuns(schedule.id, 3);

      expect(next).toEqual({
        scheduleId: schedule.id,
        cronExpression: '0 9 * * 1-5',
        timeZone: 'America/New_York',
        isEnabled: false,
        nextRuns: ['2026-04-06T13:00:00.000Z', '2026-04-07T13:00:00.000Z', '2026-04-08T13:00:00.000Z'],
      });
    });

    it('refuses a Manual schedule with ConflictError', async () => {
      const schedule = await services.schedules.create(scheduleInput({ name: 'manual' }));

      await expect(services.schedules.nextRuns(schedule.id, 5)).rejects.toBeInstanceOf(ConflictError);
    });
  });
});
