import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.js';
import { claimOf } from '../../core/idempotency.js';
import { ExecutionStatus, StepStatus } from '../../core/model.js';
import { type ExecutionPageRequest, type ScheduleRecord, StaleVersionError } from '../../core/ports.js';
import type { Execution } from '../../core/schemas/execution.js';
import type { Stores } from '../../core/services/index.js';
import { ACTIVE_EXECUTION_STATUSES } from '../../core/transitions.js';
import { TestClock } from '../integration/fixtures.js';
import { recordRun, runOf, type StoresFactory, scheduleRecord, storedSchedule } from './records.js';

const FINISHED: readonly ExecutionStatus[] = [
  ExecutionStatus.Completed,
  ExecutionStatus.Failed,
  ExecutionStatus.Cancelled,
];
const DONE = '2026-04-05T08:00:00.000Z';

/** What every ExecutionStore must do, DynamoDB's and the in-memory fake alike. */
export function executionStoreContract(name: string, makeStores: StoresFactory) {
  describe(`ExecutionStore contract: ${name}`, () => {
    let stores: Stores;
    let schedule: ScheduleRecord;
    beforeEach(async () => {
      stores = await makeStores();
      schedule = await storedSchedule(stores);
    });

    /** Moves an execution along `path`, as the services do, returning it as it ends. */
    async function walk(execution: Execution, path: readonly ExecutionStatus[]): Promise<Execution> {
      let current = execution;
      for (const status of path) {
        const moved = await stores.executions.transition(current, current.status, {
          status,
          ...(status === 'InProgress' ? { startedAt: '2026-04-05T07:30:00.000Z' } : {}),
          ...(FINISHED.includes(status) ? { completedAt: DONE } : {}),
        });
        if (!moved) throw new Error(`could not move ${current.id} to ${status}`);
        current = moved;
      }
      return current;
    }

    it('creates exclusively on the version read, bumping it and naming the run; a moved version is stale', async () => {
      const first = await recordRun(stores, schedule, 1);
      expect(await stores.schedules.get(schedule.id)).toMatchObject({
        version: 2,
        lastExecutionId: first.id,
        lastRunTime: first.queuedAt,
      });
      expect(await stores.executions.get(first.id)).toEqual(first);
      expect((await stores.executions.getSteps(first.id)).map((s) => [s.ordinal, s.status])).toEqual([
        [0, 'Pending'],
        [1, 'Pending'],
        [2, 'Pending'],
        [3, 'Pending'],
      ]);
      const { execution, steps } = runOf(schedule, 2);
      await expect(
        stores.executions.create(execution, steps, {
          version: 1,
          exclusive: true,
          lastRunTime: execution.queuedAt,
        }),
      ).rejects.toThrow(StaleVersionError);
      expect(await stores.executions.get(execution.id)).toBeUndefined();
    });

    it('records side by side without the version; false once the schedule is gone or decides one at a time', async () => {
      const { execution, steps } = runOf(schedule, 1);
      const run = { version: 99, exclusive: false, lastRunTime: execution.queuedAt };
      expect(await stores.executions.create(execution, steps, run)).toBe(true);
      const named = (await stores.schedules.get(schedule.id)) as ScheduleRecord;
      expect(named).toMatchObject({ version: 1, lastExecutionId: execution.id });

      await stores.schedules.replace({ ...named, overlapPolicy: 'Skip', version: 2 }, named);
      const second = runOf(schedule, 2);
      expect(await stores.executions.create(second.execution, second.steps, run)).toBe(false);
      // The execution is written; only the schedule does not name it (the caller withdraws it).
      expect(await stores.executions.get(second.execution.id)).toMatchObject({ status: 'Queued' });
      expect((await stores.schedules.get(schedule.id))?.lastExecutionId).toBe(execution.id);

      const current = (await stores.schedules.get(schedule.id)) as ScheduleRecord;
      await stores.schedules.delete(current);
      const third = runOf(schedule, 3);
      expect(await stores.executions.create(third.execution, third.steps, run)).toBe(false);
      expect(await stores.schedules.get(schedule.id)).toBeUndefined();
    });

    it('records a retry on no schedule (null): true with the schedule gone, the original naming the retry', async () => {
      const original = await walk(await recordRun(stores, schedule, 1), ['InProgress', 'Failed']);
      await stores.schedules.delete((await stores.schedules.get(schedule.id)) as ScheduleRecord);
      const { execution, steps } = runOf(schedule, 2, { retryOfExecutionId: original.id });

      expect(await stores.executions.create(execution, steps, null)).toBe(true);

      expect(await stores.executions.get(execution.id)).toEqual(execution);
      expect(await stores.executions.get(original.id)).toEqual({
        ...original,
        retriedByExecutionId: execution.id,
      });
      expect(await stores.schedules.get(schedule.id)).toBeUndefined();
      // A later retry takes the original's link.
      const later = runOf(schedule, 3, { retryOfExecutionId: original.id });
      expect(await stores.executions.create(later.execution, later.steps, null)).toBe(true);
      expect((await stores.executions.get(original.id))?.retriedByExecutionId).toBe(later.execution.id);
    });

    it('refuses (stale) a retry whose original is gone, writing nothing', async () => {
      const { execution, steps } = runOf(schedule, 2, { retryOfExecutionId: randomUUID() });
      await expect(stores.executions.create(execution, steps, null)).rejects.toThrow(StaleVersionError);
      expect(await stores.executions.get(execution.id)).toBeUndefined();
    });

    it('claims an idempotency key with the execution: refused while the claim lives, free once expired', async () => {
      const clock = new TestClock('2026-04-05T06:00:00.000Z');
      const scope = {
        operation: 'runSchedule',
        principal: { type: 'ApiKey', id: 'k' },
        resourceId: schedule.id,
        key: 'abc',
      };
      const first = runOf(schedule, 1);
      const run = { version: 1, exclusive: false, lastRunTime: first.execution.queuedAt };
      await stores.executions.create(
        first.execution,
        first.steps,
        run,
        claimOf(scope, { executionId: first.execution.id }, clock),
      );
      const now = Math.floor(clock.now().getTime() / 1000);
      // A claim written without a request hash (as before requests were hashed) has none.
      expect(await stores.idempotency.find(scope, now)).toEqual({
        response: { executionId: first.execution.id },
      });
      const second = runOf(schedule, 2);
      await expect(
        stores.executions.create(
          second.execution,
          second.steps,
          run,
          claimOf(scope, { executionId: second.execution.id }, clock),
        ),
      ).rejects.toThrow(StaleVersionError);
      expect(await stores.executions.get(second.execution.id)).toBeUndefined();
      clock.advance(25 * 3600_000);
      expect(await stores.idempotency.find(scope, Math.floor(clock.now().getTime() / 1000))).toBeUndefined();
      expect(
        await stores.executions.create(
          second.execution,
          second.steps,
          run,
          claimOf(scope, { executionId: second.execution.id }, clock),
        ),
      ).toBe(true);
    });

    it('transitions only from the status given, answering the caller’s execution with the patch', async () => {
      const execution = await recordRun(stores, schedule, 1);
      expect(
        await stores.executions.transition(execution, 'InProgress', { status: 'Paused' }),
      ).toBeUndefined();
      const started = await stores.executions.transition(execution, 'Queued', {
        status: 'InProgress',
        startedAt: '2026-04-05T07:30:00.000Z',
        errorMessage: undefined,
      });
      expect(started).toMatchObject({ status: 'InProgress', startedAt: '2026-04-05T07:30:00.000Z' });
      expect(await stores.executions.get(execution.id)).toEqual({
        ...execution,
        status: 'InProgress',
        startedAt: '2026-04-05T07:30:00.000Z',
      });
      // A stale copy: someone moved it first.
      expect(
        await stores.executions.transition(execution, 'Queued', { status: 'Cancelled' }),
      ).toBeUndefined();
    });

    it('ends the unfinished steps with the execution, leaving the finished ones', async () => {
      const execution = await walk(await recordRun(stores, schedule, 1), ['InProgress']);
      expect(
        await stores.executions.updateStep(execution.id, 0, ['Pending'], {
          status: 'Completed',
          completedAt: DONE,
        }),
      ).toBe(true);
      expect(await stores.executions.updateStep(execution.id, 1, ['Queued'], { status: 'Completed' })).toBe(
        false,
      );
      expect(await stores.executions.updateStep(execution.id, 9, ['Pending'], { status: 'Completed' })).toBe(
        false,
      );
      await stores.executions.updateStep(execution.id, 1, ['Pending'], { status: 'Processing' });
      await walk(execution, ['Failed']);
      const steps = await stores.executions.getSteps(execution.id);
      expect(steps.map((s) => s.status)).toEqual(['Completed', 'Cancelled', 'Cancelled', 'Cancelled']);
      expect(steps.map((s) => s.completedAt)).toEqual([DONE, DONE, DONE, DONE]);
      expect(await stores.executions.getStep(execution.id, 0)).toMatchObject({
        status: StepStatus.Completed,
      });
    });

    it('reads an execution with one of its steps, each undefined when missing', async () => {
      const execution = await recordRun(stores, schedule, 1);
      await stores.executions.updateStep(execution.id, 1, ['Pending'], { status: 'Queued' });

      const both = await stores.executions.getWithStep(execution.id, 1);
      const noStep = await stores.executions.getWithStep(execution.id, 9);
      const neither = await stores.executions.getWithStep('no-such-execution', 0);

      expect(both.execution).toEqual(await stores.executions.get(execution.id));
      expect(both.step).toEqual(await stores.executions.getStep(execution.id, 1));
      expect(both.step?.status).toBe('Queued');
      expect(noStep).toEqual({ execution: both.execution, step: undefined });
      expect(neither).toEqual({ execution: undefined, step: undefined });
      const other = await recordRun(stores, schedule, 2);
      expect(
        await stores.executions.getWithSteps([
          { executionId: execution.id, ordinal: 1 },
          { executionId: 'no-such-execution', ordinal: 0 },
          { executionId: other.id, ordinal: 0 },
          { executionId: execution.id, ordinal: 9 },
        ]),
      ).toEqual([
        both,
        neither,
        {
          execution: await stores.executions.get(other.id),
          step: await stores.executions.getStep(other.id, 0),
        },
        noStep,
      ]);
      expect(await stores.executions.getWithSteps([])).toEqual([]);
    });

    it.each(ACTIVE_EXECUTION_STATUSES)(
      'cancels an execution that is %s, and not once it moved',
      async (status) => {
        const path = { Queued: [], InProgress: ['InProgress'], Paused: ['InProgress', 'Paused'] }[
          status as 'Queued'
        ] as ExecutionStatus[];
        const execution = await walk(await recordRun(stores, schedule, 1), path);
        const change = { completedAt: DONE, cancelledById: 'user-42', cancelledByName: 'Ada' };
        const other = status === 'Queued' ? 'InProgress' : 'Queued';
        expect(await stores.executions.cancel(execution, other, change)).toBeUndefined();
        const cancelled = await stores.executions.cancel(execution, status, change);
        expect(cancelled).toMatchObject({ status: 'Cancelled', ...change });
        expect(await stores.executions.get(execution.id)).toMatchObject({ status: 'Cancelled', ...change });
        expect(await stores.executions.cancel(execution, status, change)).toBeUndefined();
      },
    );

    it('counts exactly by schedule, status and initiator, through moves and forgets (once)', async () => {
      const other = scheduleRecord();
      await stores.schedules.create(other);
      const a1 = await recordRun(stores, schedule, 1, { initiatedByType: 'User' });
      const a2 = await walk(await recordRun(stores, schedule, 2), ['InProgress', 'Completed']);
      await walk(await recordRun(stores, schedule, 3, { initiatedByType: 'NotSet' }), ['Cancelled']);
      await recordRun(stores, other, 4);
      const count = stores.executions.count.bind(stores.executions);
      expect(await count({ scheduleId: schedule.id })).toBe(3);
      expect(await count({ scheduleId: other.id })).toBe(1);
      expect(await count({ scheduleId: schedule.id, statuses: ['Queued'] })).toBe(1);
      expect(await count({ scheduleId: schedule.id, statuses: ['Completed', 'Cancelled'] })).toBe(2);
      expect(await count({ scheduleId: schedule.id, initiatedByType: 'ApiKey' })).toBe(1);
      expect(await count({ scheduleId: schedule.id, statuses: ['Queued'], initiatedByType: 'ApiKey' })).toBe(
        0,
      );
      expect(await count({ statuses: ['Queued'] })).toBe(2);
      expect(await count({})).toBe(4);
      await stores.executions.forget(a2, true);
      await stores.executions.forget(a2, true);
      expect(await count({ scheduleId: schedule.id })).toBe(2);
      expect(await count({ statuses: ['Completed'] })).toBe(0);
      expect(await stores.executions.getSteps(a2.id)).toEqual([]);
      // A range is counted from the executions in it (inclusive bounds).
      expect(await count({ scheduleId: schedule.id, from: a1.queuedAt, to: a1.queuedAt })).toBe(1);
    });

    it('refuses to count a range holding more than it may count', async () => {
      stores = await makeStores({ maxRangeCount: 2 });
      await stores.schedules.create(schedule);
      for (const i of [1, 2, 3]) await recordRun(stores, schedule, i);
      await expect(stores.executions.count({ from: '2026-04-05T00:00:00.000Z' })).rejects.toThrow(
        ValidationError,
      );
      expect(await stores.executions.count({ from: '2026-04-05T06:02:00.000Z' })).toBe(2);
    });

    it('pages in every order, by offset and by cursor, filtered, with exact totals', async () => {
      const made: Execution[] = [];
      const paths: ExecutionStatus[][] = [
        [],
        ['InProgress'],
        ['InProgress', 'Completed'],
        ['Cancelled'],
        ['InProgress', 'Failed'],
      ];
      for (let i = 0; i < 7; i++)
        made.push(
          await walk(await recordRun(stores, schedule, i), paths[i % paths.length] as ExecutionStatus[]),
        );
      const request = (fields: Partial<ExecutionPageRequest>): ExecutionPageRequest => ({
        scheduleId: schedule.id,
        sortBy: 'queuedAt',
        descending: false,
        pageSize: 3,
        offset: 0,
        ...fields,
      });
      const all = async (fields: Partial<ExecutionPageRequest>) => {
        const ids: string[] = [];
        let page = await stores.executions.page(request(fields));
        ids.push(...page.items.map((e) => e.id));
        while (page.cursor) {
          page = await stores.executions.page(request({ ...fields, cursor: page.cursor }));
          ids.push(...page.items.map((e) => e.id));
        }
        return ids;
      };
      const ids = (list: Execution[]) => list.map((e) => e.id);
      expect(await all({})).toEqual(ids(made));
      expect(await all({ descending: true })).toEqual(ids([...made].reverse()));
      const byStatus = [...made].sort((a, b) =>
        `${a.status}#${a.queuedAt}`.localeCompare(`${b.status}#${b.queuedAt}`),
      );
      expect(await all({ sortBy: 'status' })).toEqual(ids(byStatus));
      expect(await all({ sortBy: 'status', statuses: ['Queued', 'Cancelled'] })).toEqual(
        ids(byStatus.filter((e) => e.status === 'Queued' || e.status === 'Cancelled')),
      );
      // Not started yet sorts last ascending.
      const started = await all({ sortBy: 'startedAt' });
      expect(started.slice(-3).sort()).toEqual(ids(made.filter((e) => e.startedAt === null)).sort());
      const second = await stores.executions.page(request({ offset: 3, descending: true }));
      expect(second).toMatchObject({ totalCount: 7 });
      expect(ids(second.items)).toEqual(ids([...made].reverse().slice(3, 6)));
      const filtered = await stores.executions.page(request({ statuses: ['Queued'], pageSize: 10 }));
      expect(filtered.totalCount).toBe(2);
      expect(filtered.cursor).toBeUndefined();
      const ranged = await stores.executions.page(
        request({ from: made[2]?.queuedAt, to: made[4]?.queuedAt }),
      );
      expect(ids(ranged.items)).toEqual(ids(made.slice(2, 5)));
      expect(ranged.totalCount).toBe(3);
      await expect(
        stores.executions.page(request({ sortBy: 'startedAt', statuses: ['Queued'] })),
      ).rejects.toThrow(ValidationError);
      await expect(stores.executions.page(request({ sortBy: 'completedAt', from: DONE }))).rejects.toThrow(
        ValidationError,
      );
      await expect(stores.executions.page(request({ cursor: { m: 'x', extra: 1 } }))).rejects.toThrow(
        ValidationError,
      );
    });

    it('lists the active executions oldest first, of one schedule or all, and the Queued ids of one; getMany finds the known ids', async () => {
      const other = scheduleRecord();
      await stores.schedules.create(other);
      const b = await recordRun(stores, schedule, 2);
      const a = await walk(await recordRun(stores, schedule, 1), ['InProgress', 'Paused']);
      await walk(await recordRun(stores, schedule, 3), ['Cancelled']);
      const c = await recordRun(stores, other, 0);
      expect(ids(await stores.executions.listActive(schedule.id))).toEqual([a.id, b.id]);
      expect(ids(await stores.executions.listActive())).toEqual(expect.arrayContaining([c.id, a.id, b.id]));
      expect(await stores.executions.queuedIds(schedule.id)).toEqual([b.id]);
      const found = await stores.executions.getMany([a.id, a.id, randomUUID()]);
      expect([...found.keys()]).toEqual([a.id]);
    });

    it('parks only a Queued or Paused execution, and keeps its token', async () => {
      const queued = await recordRun(stores, schedule, 1);
      expect(await stores.executions.park(queued.id, 'token-1')).toBe(true);
      expect(await stores.executions.parkToken(queued.id)).toBe('token-1');
      const running = await walk(queued, ['InProgress']);
      expect(await stores.executions.park(running.id, 'token-2')).toBe(false);
      expect(await stores.executions.parkToken(running.id)).toBe('token-1');
      await walk(running, ['Paused']);
      expect(await stores.executions.park(running.id, 'token-3')).toBe(true);
      expect(await stores.executions.park(randomUUID(), 'token-4')).toBe(false);
      expect(await stores.executions.get(running.id)).not.toHaveProperty('parkToken');
    });

    it('forgets a park token only while it is the one kept', async () => {
      const queued = await recordRun(stores, schedule, 1);
      await stores.executions.park(queued.id, 'token-1');
      await stores.executions.park(queued.id, 'token-2');
      await stores.executions.forgetParkToken(queued.id, 'token-1');
      expect(await stores.executions.parkToken(queued.id)).toBe('token-2');
      await stores.executions.forgetParkToken(queued.id, 'token-2');
      expect(await stores.executions.parkToken(queued.id)).toBeUndefined();
      await stores.executions.forgetParkToken(queued.id, 'token-2');
      await stores.executions.forgetParkToken(randomUUID(), 'token-3');
      expect(await stores.executions.parkToken(queued.id)).toBeUndefined();
    });
  });
}

const ids = (list: Execution[]) => list.map((e) => e.id);
