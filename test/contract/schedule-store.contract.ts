import { beforeEach, describe, expect, it } from 'vitest';
import { duePartitionOf } from '../../core/due-partitions.js';
import { ConflictError, ValidationError } from '../../core/errors.js';
import { StaleVersionError } from '../../core/ports.js';
import type { Stores } from '../../core/services/index.js';
import { recordRun, runOf, type StoresFactory, scheduleRecord, storedSchedule } from './records.js';

/** What every ScheduleStore must do, DynamoDB's and the in-memory fake alike. */
export function scheduleStoreContract(name: string, makeStores: StoresFactory) {
  describe(`ScheduleStore contract: ${name}`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await makeStores();
    });

    it('reads back what it created, a copy, and nothing for an unknown id', async () => {
      const schedule = scheduleRecord();
      await stores.schedules.create(schedule);
      const read = await stores.schedules.get(schedule.id);
      expect(read).toEqual(schedule);
      if (read) read.name = 'changed by the caller';
      expect((await stores.schedules.get(schedule.id))?.name).toBe(schedule.name);
      expect(await stores.schedules.get('3f1c2b4a-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('reads many at once, consistently, copies, leaving unknown ids out', async () => {
      const schedules = [scheduleRecord({ name: 'First' }), scheduleRecord({ name: 'Second' })];
      for (const schedule of schedules) await stores.schedules.create(schedule);
      const unknown = '3f1c2b4a-0000-4000-8000-000000000000';
      const read = await stores.schedules.getMany([...schedules.map((s) => s.id), unknown]);
      expect([...read.keys()].sort()).toEqual(schedules.map((s) => s.id).sort());
      for (const schedule of schedules) expect(read.get(schedule.id)).toEqual(schedule);
      const first = read.get(schedules[0]?.id ?? '');
      if (first) first.name = 'changed by the caller';
      expect((await stores.schedules.get(schedules[0]?.id ?? ''))?.name).toBe('First');
      expect((await stores.schedules.getMany([])).size).toBe(0);
    });

    it('refuses a name taken regardless of case and surrounding spaces, on create and on rename', async () => {
      const first = scheduleRecord({ name: 'Daily Sync' });
      const other = scheduleRecord({ name: 'Other' });
      await stores.schedules.create(first);
      await stores.schedules.create(other);
      await expect(stores.schedules.create(scheduleRecord({ name: ' daily sync ' }))).rejects.toThrow(
        ConflictError,
      );
      await expect(
        stores.schedules.replace({ ...other, name: 'DAILY SYNC', version: 2 }, other),
      ).rejects.toThrow(ConflictError);
      // A rename frees the old name; a change of case only keeps it.
      await stores.schedules.replace({ ...first, name: 'daily SYNC', version: 2 }, first);
      const renamed = { ...first, name: 'daily SYNC', version: 2 };
      await stores.schedules.replace({ ...renamed, name: 'Weekly Sync', version: 3 }, renamed);
      await stores.schedules.create(scheduleRecord({ name: 'Daily Sync' }));
    });

    it('refuses an edit or delete of a schedule changed since it was read (version, or a run named on it)', async () => {
      const schedule = await storedSchedule(stores);
      await stores.schedules.replace({ ...schedule, description: 'one', version: 2 }, schedule);
      await expect(
        stores.schedules.replace({ ...schedule, description: 'two', version: 2 }, schedule),
      ).rejects.toThrow(StaleVersionError);
      await expect(stores.schedules.delete(schedule)).rejects.toThrow(StaleVersionError);
      // A run recorded side by side leaves the version alone but names its execution.
      const read = await stores.schedules.get(schedule.id);
      const { execution, steps } = runOf(schedule, 1);
      await stores.executions.create(execution, steps, {
        version: 2,
        exclusive: false,
        lastRunTime: execution.queuedAt,
      });
      if (!read) throw new Error('the schedule is gone');
      await expect(stores.schedules.replace({ ...read, description: 'three' }, read)).rejects.toThrow(
        StaleVersionError,
      );
      await expect(stores.schedules.delete(read)).rejects.toThrow(StaleVersionError);
      const current = await stores.schedules.get(schedule.id);
      expect(current).toMatchObject({ version: 2, lastExecutionId: execution.id });
      if (!current) throw new Error('the schedule is gone');
      await stores.schedules.delete(current);
      expect(await stores.schedules.get(schedule.id)).toBeUndefined();
      // Deleted: its name is free, and a stale delete or replace of it is refused.
      await stores.schedules.create(scheduleRecord({ name: schedule.name }));
      await expect(stores.schedules.replace({ ...current, version: 3 }, current)).rejects.toThrow(
        StaleVersionError,
      );
    });

    it('refuses a schedule too large to store, naming steps', async () => {
      const schedule = scheduleRecord();
      const huge = { ...schedule, description: 'x'.repeat(400 * 1024) };
      const refused = await stores.schedules.create(huge).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ValidationError);
      expect(Object.keys((refused as ValidationError).validationErrors ?? {})).toEqual(['steps']);
      expect(await stores.schedules.get(schedule.id)).toBeUndefined();
    });

    it('lists every schedule, and the due ones longest due first, by partition', async () => {
      const due = [3, 1, 2].map((minute) =>
        scheduleRecord({
          triggerType: 'Cron',
          cronExpression: '* * * * *',
          nextRunTime: `2026-04-05T06:0${minute}:00.000Z`,
        }),
      );
      const later = scheduleRecord({ nextRunTime: '2026-04-05T07:00:00.000Z' });
      const never = scheduleRecord();
      for (const s of [...due, later, never]) await stores.schedules.create(s);
      expect((await stores.schedules.listAll()).map((s) => s.id).sort()).toEqual(
        [...due, later, never].map((s) => s.id).sort(),
      );
      const now = '2026-04-05T06:30:00.000Z';
      const byTime = [...due].sort((a, b) => String(a.nextRunTime).localeCompare(String(b.nextRunTime)));
      expect(await stores.schedules.listDue(now)).toEqual(byTime.map((s) => s.id));
      const partition = duePartitionOf(byTime[0]?.id ?? '');
      expect(await stores.schedules.listDue(now, [partition])).toEqual(
        byTime.filter((s) => duePartitionOf(s.id) === partition).map((s) => s.id),
      );
      // A fire moves the schedule on: due later, or not at all.
      const fired = due[0];
      if (!fired) throw new Error('no schedule');
      await recordRun(stores, fired, 1);
      const { execution, steps } = runOf(fired, 2);
      await stores.executions.create(execution, steps, {
        version: 2,
        exclusive: true,
        lastRunTime: execution.queuedAt,
        fire: { nextRunTime: null, missedCount: 4 },
      });
      expect(await stores.schedules.listDue(now)).not.toContain(fired.id);
      expect(await stores.schedules.get(fired.id)).toMatchObject({
        nextRunTime: null,
        missedCount: 4,
        version: 3,
      });
    });
  });
}
