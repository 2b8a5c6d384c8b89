import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TaskClaimant, WorkerTask } from '../../core/ports.js';
import type { Execution } from '../../core/schemas/execution.js';
import type { Stores } from '../../core/services/index.js';
import { recordRun, type StoresFactory, storedSchedule } from './records.js';

const NOW = '2026-04-05T07:00:00.000Z';
const worker = { claimedBy: 'key-1', workerId: 'w-1' };
const done = { activityStatus: 'Complete' as const };

/** What every WorkerTaskStore must do, DynamoDB's and the in-memory fake alike. */
export function workerTaskStoreContract(name: string, makeStores: StoresFactory) {
  describe(`WorkerTaskStore contract: ${name}`, () => {
    let stores: Stores;
    let execution: Execution;
    beforeEach(async () => {
      stores = await makeStores();
      execution = await recordRun(stores, await storedSchedule(stores), 1);
    });

    const task = (ordinal: number, fields: Partial<WorkerTask> = {}): WorkerTask => ({
      taskId: randomUUID(),
      executionId: execution.id,
      ordinal,
      pool: 'default',
      status: 'Queued',
      taskToken: `token-${ordinal}`,
      createdAt: `2026-04-05T06:0${ordinal}:00.000Z`,
      ...fields,
    });
    const step = async (ordinal: number) => (await stores.executions.getStep(execution.id, ordinal))?.status;
    const claimAll = async (...args: Parameters<Stores['tasks']['claim']>) => {
      const claimed: WorkerTask[] = [];
      for await (const claimedTask of stores.tasks.claim(...args)) claimed.push(claimedTask);
      return claimed;
    };
    /** One task's claim: the task claimed, or undefined. */
    const claimOne = async (
      taskId: string,
      claimant: Required<TaskClaimant>,
      claimId: string,
      now: string,
      pool?: string,
    ) => (await claimAll([taskId], claimant, claimId, () => now, pool === undefined ? {} : { pool }))[0];

    it('enqueues a task with its step, only from the statuses given, once', async () => {
      const first = task(0);
      expect(await stores.tasks.enqueue(first, ['Pending', 'Waiting'])).toBe(true);
      expect(await step(0)).toBe('Queued');
      expect((await stores.executions.getStep(execution.id, 0))?.taskId).toBe(first.taskId);
      expect(await stores.tasks.enqueue(task(0), ['Pending', 'Waiting'])).toBe(false);
      expect(await stores.tasks.enqueue({ ...task(1), taskId: first.taskId }, ['Pending'])).toBe(false);
      expect(await step(1)).toBe('Pending');
      const other = task(1, { pool: 'sql' });
      await stores.tasks.enqueue(other, ['Pending']);
      expect((await stores.tasks.queuedIn('default', 10)).map((task) => task.taskId)).toEqual([first.taskId]);
      expect((await stores.tasks.allQueued()).map((t) => t.taskId)).toEqual([first.taskId, other.taskId]);
      const backstopAt = '2026-01-02T00:00:00.000Z';
      await stores.tasks.replaceToken(first.taskId, {
        taskToken: 'restarted',
        decidesNext: true,
        backstopAt,
      });
      expect(await stores.tasks.get(first.taskId)).toMatchObject({
        taskToken: 'restarted',
        decidesNext: true,
        backstopAt,
      });
      // A RunStep's token has no backstop of its own to hand on: the old one must not linger.
      await stores.tasks.replaceToken(first.taskId, { taskToken: 'again', decidesNext: false });
      expect(await stores.tasks.get(first.taskId)).not.toHaveProperty('backstopAt');
      await expect(
        stores.tasks.replaceToken(randomUUID(), { taskToken: 'x', decidesNext: false }),
      ).rejects.toThrow();
    });

    it('claims a task named with a pool only when it is of that pool', async () => {
      const queued = task(0, { pool: 'sql' });
      await stores.tasks.enqueue(queued, ['Pending']);
      expect(await claimOne(queued.taskId, worker, 'c-1', NOW, 'default')).toBeUndefined();
      expect(await claimOne(queued.taskId, worker, 'c-1', NOW, 'sql')).toMatchObject({
        status: 'Claimed',
        pool: 'sql',
      });
    });

    it('claims tasks in the order given, up to max, passing over the taken, the missing and other pools', async () => {
      const tasks = [task(0), task(1), task(2, { pool: 'sql' }), task(3)];
      for (const queued of tasks) await stores.tasks.enqueue(queued, ['Pending']);
      const [a, b, c, d] = tasks.map((queued) => queued.taskId) as [string, string, string, string];
      await claimOne(b, { claimedBy: 'key-2', workerId: 'w-2' }, 'c-0', NOW);
      const order = [b, randomUUID(), c, d, a];
      const claimed = await claimAll(order, worker, 'c-1', () => NOW, { max: 1, pool: 'default' });
      expect(claimed.map((t) => t.taskId)).toEqual([d]);
      expect((await stores.tasks.claimedIn(worker, 'c-1')).map((t) => t.taskId)).toEqual([d]);
      expect((await stores.tasks.queuedIn('default', 10)).map((task) => task.taskId)).toEqual([a]);
      // Without max, every one it can, each at the time of its own claim.
      let tick = 0;
      const clock = () => `2026-04-05T07:00:0${++tick}.000Z`;
      expect((await claimAll([c, a], worker, 'c-2', clock)).map((t) => [t.taskId, t.claimedAt])).toEqual([
        [c, '2026-04-05T07:00:01.000Z'],
        [a, '2026-04-05T07:00:02.000Z'],
      ]);
    });

    it('claims a queued task once, with its step, and finds it again by its claim', async () => {
      const queued = task(0);
      await stores.tasks.enqueue(queued, ['Pending']);
      const claimed = await claimOne(queued.taskId, worker, 'c-1', NOW);
      expect(claimed).toMatchObject({
        status: 'Claimed',
        ...worker,
        claimId: 'c-1',
        claimedAt: NOW,
        lastHeartbeatAt: NOW,
      });
      expect(await stores.executions.getStep(execution.id, 0)).toMatchObject({
        status: 'Processing',
        startedAt: NOW,
        activityStatus: 'InProgress',
        workerId: 'w-1',
      });
      expect(
        await claimOne(queued.taskId, { claimedBy: 'key-2', workerId: 'w-2' }, 'c-2', NOW),
      ).toBeUndefined();
      expect((await stores.tasks.queuedIn('default', 10)).map((task) => task.taskId)).toEqual([]);
      expect((await stores.tasks.claimedIn(worker, 'c-1')).map((t) => t.taskId)).toEqual([queued.taskId]);
      expect(await stores.tasks.claimedIn({ ...worker, claimedBy: 'key-2' }, 'c-1')).toEqual([]);
    });

    it('abandons a queued task whose step was cancelled when it is claimed', async () => {
      const queued = task(0);
      await stores.tasks.enqueue(queued, ['Pending']);
      await stores.executions.transition(execution, 'Queued', { status: 'Cancelled', completedAt: NOW });
      expect(await claimOne(queued.taskId, worker, 'c-1', NOW)).toBeUndefined();
      expect((await stores.tasks.get(queued.taskId))?.status).toBe('Abandoned');
    });

    it('releases a claim back to the queue, only for the claim that holds it', async () => {
      const queued = task(0);
      await stores.tasks.enqueue(queued, ['Pending']);
      const claimed = (await claimOne(queued.taskId, worker, 'c-1', NOW)) as WorkerTask;
      await stores.tasks.release(claimed, 'c-other');
      expect((await stores.tasks.get(queued.taskId))?.status).toBe('Claimed');
      await stores.tasks.release(claimed, 'c-1');
      const released = await stores.tasks.get(queued.taskId);
      expect(released).toMatchObject({ status: 'Queued' });
      expect(released).not.toHaveProperty('claimId');
      const stepRow = await stores.executions.getStep(execution.id, 0);
      expect(stepRow?.status).toBe('Queued');
      expect(stepRow?.startedAt ?? null).toBeNull();
      expect(stepRow?.workerId ?? null).toBeNull();
      expect((await stores.tasks.queuedIn('default', 10)).map((task) => task.taskId)).toEqual([
        queued.taskId,
      ]);
    });

    it("keeps a heartbeat's output (newest 16 KB of UTF-8) until a beat brings another; reads tasks in a batch", async () => {
      const queued = task(0);
      await stores.tasks.enqueue(queued, ['Pending']);
      await claimOne(queued.taskId, worker, 'c-1', NOW);
      await stores.tasks.touch(queued.taskId, worker, NOW, 'one', 'line 1\n');
      expect(await stores.tasks.get(queued.taskId)).toMatchObject({
        heartbeatMessage: 'one',
        output: 'line 1\n',
      });
      await stores.tasks.touch(queued.taskId, worker, NOW, undefined);
      expect(await stores.tasks.get(queued.taskId)).toMatchObject({ output: 'line 1\n' });
      const long = `${'é'.repeat(9000)}end`; // 18 003 bytes
      await stores.tasks.touch(queued.taskId, worker, NOW, 'two', long);
      const kept = (await stores.tasks.get(queued.taskId))?.output ?? '';
      expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(16 * 1024);
      expect(long.endsWith(kept)).toBe(true);
      expect(kept).toBe(`${'é'.repeat(8190)}end`);

      const other = task(1);
      await stores.tasks.enqueue(other, ['Pending']);
      const found = await stores.tasks.getMany([queued.taskId, other.taskId, randomUUID()]);
      expect([...found.keys()].sort()).toEqual([queued.taskId, other.taskId].sort());
      expect(found.get(other.taskId)?.status).toBe('Queued');
      expect((await stores.tasks.getMany([])).size).toBe(0);
    });

    it('takes heartbeats and outcomes only from the claimant; late once the step ended without it', async () => {
      const queued = task(0);
      await stores.tasks.enqueue(queued, ['Pending']);
      const claimed = (await claimOne(queued.taskId, worker, 'c-1', NOW)) as WorkerTask;
      expect(await stores.tasks.touch(queued.taskId, { claimedBy: 'key-2' }, NOW, 'hi')).toBe(false);
      expect(
        await stores.tasks.touch(queued.taskId, { claimedBy: 'key-1', workerId: 'w-9' }, NOW, 'hi'),
      ).toBe(false);
      expect(
        await stores.tasks.touch(queued.taskId, { claimedBy: 'key-1' }, '2026-04-05T07:01:00.000Z', 'half'),
      ).toBe(true);
      expect(await stores.tasks.get(queued.taskId)).toMatchObject({
        lastHeartbeatAt: '2026-04-05T07:01:00.000Z',
        heartbeatMessage: 'half',
      });
      expect(
        await stores.tasks.complete(claimed, { claimedBy: 'key-2' }, done, NOW, { status: 'Completed' }),
      ).toBe('not-claimed');
      expect(
        await stores.tasks.complete(claimed, worker, done, NOW, { status: 'Completed', completedAt: NOW }),
      ).toBe('ok');
      expect(await step(0)).toBe('Completed');
      expect(await stores.tasks.get(queued.taskId)).toMatchObject({
        status: 'Completed',
        outcomeAccepted: true,
        outcome: done,
      });
      expect(await stores.tasks.complete(claimed, worker, done, NOW, { status: 'Completed' })).toBe(
        'not-claimed',
      );

      // The step fails without the worker (a timeout): its report comes late, kept on the task only.
      const second = task(1);
      await stores.tasks.enqueue(second, ['Pending']);
      const claimedSecond = (await claimOne(second.taskId, worker, 'c-2', NOW)) as WorkerTask;
      await stores.executions.updateStep(execution.id, 1, ['Processing'], { status: 'Failed' });
      expect(await stores.tasks.complete(claimedSecond, worker, done, NOW, { status: 'Completed' })).toBe(
        'late',
      );
      expect(await step(1)).toBe('Failed');
      expect(await stores.tasks.get(second.taskId)).toMatchObject({
        status: 'Completed',
        outcomeAccepted: false,
      });
    });

    it('abandons a queued or claimed task, and nothing that has finished', async () => {
      const queued = task(0);
      await stores.tasks.enqueue(queued, ['Pending']);
      await stores.tasks.abandon(queued.taskId);
      expect((await stores.tasks.get(queued.taskId))?.status).toBe('Abandoned');
      expect((await stores.tasks.queuedIn('default', 10)).map((task) => task.taskId)).toEqual([]);
      const second = task(1);
      await stores.tasks.enqueue(second, ['Pending']);
      const claimed = (await claimOne(second.taskId, worker, 'c-1', NOW)) as WorkerTask;
      await stores.tasks.complete(claimed, worker, done, NOW, { status: 'Completed' });
      await stores.tasks.abandon(second.taskId);
      expect((await stores.tasks.get(second.taskId))?.status).toBe('Completed');
      await stores.tasks.abandon(randomUUID());
    });

    it('lists the tasks a claimant holds, oldest claim first, until released, completed or abandoned', async () => {
      const tasks = [task(0), task(1), task(2), task(3)];
      for (const queued of tasks) await stores.tasks.enqueue(queued, ['Pending']);
      const [a, b, c, d] = tasks.map((queued) => queued.taskId) as [string, string, string, string];
      await claimOne(b, worker, 'c-1', '2026-04-05T07:00:01.000Z');
      await claimOne(a, worker, 'c-2', '2026-04-05T07:00:02.000Z');
      await claimOne(c, worker, 'c-3', '2026-04-05T07:00:03.000Z');
      await claimOne(d, { ...worker, workerId: 'w-2' }, 'c-4', NOW);
      const held = async (claimant = worker, limit = 10) =>
        (await stores.tasks.heldBy(claimant, limit)).map((t) => t.taskId);
      expect(await held()).toEqual([b, a, c]);
      expect(await held(worker, 2)).toEqual([b, a]);
      expect(await held({ ...worker, workerId: 'w-2' })).toEqual([d]);
      expect(await held({ ...worker, claimedBy: 'key-2' })).toEqual([]);
      const claimedA = (await stores.tasks.get(a)) as WorkerTask;
      await stores.tasks.release(claimedA, 'c-2');
      await stores.tasks.complete((await stores.tasks.get(b)) as WorkerTask, worker, done, NOW, {
        status: 'Completed',
      });
      await stores.tasks.abandon(c);
      expect(await held()).toEqual([]);
      expect((await stores.tasks.heldBy(worker, 10)).length).toBe(0);
    });
  });

  describe(`WorkerStore contract: ${name}`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await makeStores();
    });
    // Keys of this test's own, should the tables be shared.
    let prefix = '';
    const mine = (records: { claimedBy: string }[]) => records.filter((r) => r.claimedBy.startsWith(prefix));

    it('keeps one record per credential and workerId: pools of the latest claim, kept by heartbeats', async () => {
      prefix = `key-${randomUUID()}`;
      const one = { claimedBy: `${prefix}-a`, workerId: 'w-1' };
      await stores.workers.seen(
        { ...one, lastSeenAt: '2026-04-05T07:00:00.000Z' },
        { pools: ['east'], waitSeconds: 5 },
      );
      await stores.workers.seen(
        { ...one, lastSeenAt: '2026-04-05T07:00:10.000Z' },
        { pools: ['east', 'west'], waitSeconds: 20 },
      );
      await stores.workers.seen(
        { ...one, lastSeenAt: '2026-04-05T07:00:20.000Z' },
        { fallbackPools: ['other'] },
      );
      await stores.workers.seen(
        { claimedBy: `${prefix}-a`, workerId: 'w-2', lastSeenAt: '2026-04-05T07:00:15.000Z' },
        { fallbackPools: ['sql'] },
      );
      await stores.workers.seen(
        { claimedBy: `${prefix}-b`, workerId: 'w-1', lastSeenAt: '2026-04-05T06:00:00.000Z' },
        { pools: ['east'], waitSeconds: 0 },
      );
      expect(mine(await stores.workers.seenSince('2026-04-05T06:30:00.000Z'))).toEqual([
        { ...one, pools: ['east', 'west'], waitSeconds: 20, lastSeenAt: '2026-04-05T07:00:20.000Z' },
        {
          claimedBy: `${prefix}-a`,
          workerId: 'w-2',
          pools: ['sql'],
          waitSeconds: 0,
          lastSeenAt: '2026-04-05T07:00:15.000Z',
        },
      ]);
      expect(mine(await stores.workers.seenSince('2026-04-05T05:00:00.000Z'))).toHaveLength(3);
    });
  });
}
