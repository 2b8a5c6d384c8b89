import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../core/model.js';
import type { Services } from '../../core/services/index.js';
import type { TestClock } from './fixtures.js';
import { runOfNewSchedule, servicesOnFreshTables, type TestStores } from './services.js';

/** `GET /workers` over DynamoDB Local: who claimed or beat lately, what it holds, Online or Offline. */

const keyA: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key A', roles: ['Worker'] };
const host1 = { principal: keyA, workerId: 'host-1' };

describe('WorkerService.list on DynamoDB Local', () => {
  let services: Services;
  let clock: TestClock;
  let db: Awaited<ReturnType<typeof servicesOnFreshTables>>['db'];
  let stores: TestStores;

  beforeEach(async () => {
    // Today: the tasks' and workers' expiry is computed from the clock, and DynamoDB Local's TTL runs.
    ({ db, clock, services, stores } = await servicesOnFreshTables(new Date()));
  });

  let made = 0;
  /** Runs a one-step schedule on `pool` and queues its task. */
  async function queued(pool = 'default', stepName = 'Only') {
    made += 1;
    const executionId = await runOfNewSchedule(services, `Workers ${made}`, [
      { name: stepName, stepType: 'Executable', executablePath: '/bin/true', workerPool: pool },
    ]);
    await services.orchestrator.advance(executionId);
    await services.orchestrator.enqueueStep(executionId, 0, `token-${made}`);
    return executionId;
  }

  const claim = (workerId: string, pools: string[], waitSeconds = 0) =>
    services.workers.claim({ workerId, pools, maxTasks: 5, waitSeconds }, keyA);

  /** The one task host-1 claims from `pools`. */
  async function claimOne(pools: string[]) {
    const [task] = await claim('host-1', pools);
    if (!task) throw new Error('claimed nothing');
    return task;
  }

  const secondsLater = (seconds: number) => clock.set(new Date(clock.now().getTime() + seconds * 1000));

  it('lists a worker that claimed as Online, with the pools of its claim and the task it holds', async () => {
    const executionId = await queued('east', 'Load');
    const task = await claimOne(['east', 'west']);

    const workers = await services.workers.list();

    expect(workers).toEqual([
      {
        workerId: 'host-1',
        pools: ['east', 'west'],
        status: 'Online',
        lastSeenAt: clock.now().toISOString(),
        runningTasks: [
          { taskId: task.taskId, executionId, stepName: 'Load', since: clock.now().toISOString() },
        ],
      },
    ]);
  });

  it('lists a worker whose claim found nothing, with no running tasks', async () => {
    await claim('idle-1', ['nothing-here']);

    expect(await services.workers.list()).toMatchObject([
      { workerId: 'idle-1', pools: ['nothing-here'], status: 'Online', runningTasks: [] },
    ]);
  });

  it('is Offline once 60 s pass without contact when 2 × waitSeconds is less', async () => {
    // A task is waiting, so the claim answers at once rather than long-polling for real.
    await queued();
    await claim('host-1', ['default'], 10);

    secondsLater(60);
    const atLimit = await services.workers.list();
    secondsLater(1);
    const past = await services.workers.list();

    expect(atLimit.map((worker) => worker.status)).toEqual(['Online']);
    expect(past.map((worker) => worker.status)).toEqual(['Offline']);
  });

  it('stays Online for 2 × waitSeconds when that is over 60 s', async () => {
    // waitSeconds is at most 20 in a claim (40 s < 60 s); a record of 40 s stands for a longer wait.
    await queued();
    await claim('host-1', ['default'], 20);
    await stores.workers.seen(
      { claimedBy: 'ApiKey:key-a', workerId: 'slow-1', lastSeenAt: clock.now().toISOString() },
      { pools: ['default'], waitSeconds: 40 },
    );

    secondsLater(75);
    const workers = await services.workers.list();

    expect(Object.fromEntries(workers.map((worker) => [worker.workerId, worker.status]))).toEqual({
      'host-1': 'Offline',
      'slow-1': 'Online',
    });
  });

  it('is kept Online by heartbeats, which keep the pools of its claim', async () => {
    await queued('east');
    const task = await claimOne(['east', 'west']);

    secondsLater(50);
    await services.workers.heartbeat(task.taskId, host1, 'working');
    secondsLater(50);
    const workers = await services.workers.list();

    expect(workers).toMatchObject([{ workerId: 'host-1', pools: ['east', 'west'], status: 'Online' }]);
    expect(workers[0]?.lastSeenAt).toBe(new Date(clock.now().getTime() - 50_000).toISOString());
  });

  it('empties runningTasks when the task is completed', async () => {
    await queued();
    const task = await claimOne(['default']);

    await services.workers.complete(task.taskId, host1, { activityStatus: 'Complete' });

    expect(await services.workers.list()).toMatchObject([{ workerId: 'host-1', runningTasks: [] }]);
  });

  it('takes the claimed-by key off a task once it ends, and skips a Completed task the index still lists', async () => {
    await queued();
    const task = await claimOne(['default']);
    await services.workers.complete(task.taskId, host1, { activityStatus: 'Complete' });
    const key = { TableName: db.tables.workerTasks, Key: { taskId: task.taskId } };
    const { Item } = await db.client.send(new GetCommand(key));

    // As an index lagging the completion would still show it.
    await db.client.send(
      new UpdateCommand({
        ...key,
        UpdateExpression: 'SET claimedWorker = :claimant',
        ExpressionAttributeValues: { ':claimant': 'ApiKey:key-a|host-1' },
      }),
    );
    const workers = await services.workers.list();

    expect(Item).toMatchObject({ status: 'Completed' });
    expect(Item?.claimedWorker).toBeUndefined();
    expect(workers).toMatchObject([{ workerId: 'host-1', runningTasks: [] }]);
  });

  it('empties runningTasks when the task is abandoned (its step ended without the worker)', async () => {
    await queued();
    const task = await claimOne(['default']);

    await stores.tasks.abandon(task.taskId);

    expect(await services.workers.list()).toMatchObject([{ workerId: 'host-1', runningTasks: [] }]);
  });

  it('lists two workerIds of one key as two workers, each with its own tasks', async () => {
    await queued();
    await queued();
    const [first] = await services.workers.claim(
      { workerId: 'host-1', pools: ['default'], maxTasks: 1, waitSeconds: 0 },
      keyA,
    );
    secondsLater(1);
    const [second] = await services.workers.claim(
      { workerId: 'host-2', pools: ['default'], maxTasks: 1, waitSeconds: 0 },
      keyA,
    );

    const workers = await services.workers.list();

    expect(
      workers.map((worker) => [worker.workerId, worker.runningTasks.map((held) => held.taskId)]),
    ).toEqual([
      ['host-2', [second?.taskId]],
      ['host-1', [first?.taskId]],
    ]);
  });

  it('writes the worker to expire a day after it was last seen, and forgets it after a day', async () => {
    await claim('host-1', ['default']);
    const seenAt = clock.now().getTime();

    const { Item } = await db.client.send(
      new GetCommand({ TableName: db.tables.workers, Key: { id: 'ApiKey:key-a|host-1' } }),
    );
    secondsLater(86_401);
    const later = await services.workers.list();

    expect(Item?.expiresAt).toBe(Math.floor(seenAt / 1000) + 86_400);
    expect(later).toEqual([]);
  });
});
