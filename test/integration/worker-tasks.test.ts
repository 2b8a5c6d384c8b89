import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoWorkerTaskStore } from '../../core/adapters/dynamodb/worker-task-store.js';
import { ForbiddenError } from '../../core/errors.js';
import type { Principal } from '../../core/model.js';
import type { Services } from '../../core/services/index.js';
import { claimantOf } from '../../core/services/workers.js';
import type { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { operator } from './fixtures.js';
import { runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * A claimed task belongs to the credential that claimed it and the workerId it claimed as: the
 * service refuses anyone else, and the store's writes carry the claimant as their condition.
 */

const keyA: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key A', roles: ['Worker'] };
const keyB: Principal = { type: 'ApiKey', id: 'key-b', name: 'worker key B', roles: ['Worker'] };
const A = { principal: keyA, workerId: 'host-a' };
const B = { principal: keyB, workerId: 'host-b' };

describe('WorkerService and DynamoWorkerTaskStore: tasks bound to their claimant', () => {
  let services: Services;
  let store: DynamoWorkerTaskStore;
  let workflow: RecordingWorkflow;

  beforeEach(async () => {
    // Today, not the fixtures' default day: that is past the tasks' expiry, and DynamoDB Local's TTL
    // would delete them under the test.
    let db: Awaited<ReturnType<typeof servicesOnFreshTables>>['db'];
    ({ db, workflow, services } = await servicesOnFreshTables(new Date()));
    store = new DynamoWorkerTaskStore(db.client, db.tables);
  });

  let made = 0;
  /** Runs a one-step schedule and has key A claim its task as host-a. */
  async function claimedByA() {
    made += 1;
    const executionId = await runOfNewSchedule(services, `Claimed ${made}`, [
      { name: 'Only', stepType: 'Executable', executablePath: '/bin/true' },
    ]);
    await services.orchestrator.advance(executionId);
    await services.orchestrator.enqueueStep(executionId, 0, `token-${made}`);
    const [task] = await services.workers.claim(
      { workerId: A.workerId, pools: ['default'], maxTasks: 1, waitSeconds: 0 },
      keyA,
    );
    if (!task) throw new Error('key A claimed nothing');
    return task;
  }

  const stepOf = async (executionId: string) =>
    (await services.executions.get(executionId)).steps?.[0] as { status: string; activityStatus: string };

  it('records the claiming credential and workerId on the task', async () => {
    const claimed = await claimedByA();

    const task = await store.get(claimed.taskId);

    expect(task).toMatchObject({ status: 'Claimed', claimedBy: 'ApiKey:key-a', workerId: 'host-a' });
  });

  it.each([
    ['another key', B],
    ['another key naming the same workerId', { principal: keyB, workerId: 'host-a' }],
    ['another key naming no workerId', { principal: keyB }],
    ['the same key naming another workerId', { principal: keyA, workerId: 'host-b' }],
    ['a user whose sub is the claiming key id', { principal: { ...keyA, type: 'User' as const } }],
  ])('refuses heartbeat and complete from %s, changing nothing', async (_name, caller) => {
    // Arrange
    const task = await claimedByA();
    const before = await store.get(task.taskId);
    const calls = workflow.calls.length;

    // Act
    const [beat, complete] = await Promise.allSettled([
      services.workers.heartbeat(task.taskId, caller, 'not mine'),
      services.workers.complete(task.taskId, caller, { activityStatus: 'FailedWithError' }),
    ]);

    // Assert
    for (const refused of [beat, complete]) {
      expect(refused.status === 'rejected' && refused.reason).toBeInstanceOf(ForbiddenError);
      expect(refused.status === 'rejected' && refused.reason).toMatchObject({
        statusCode: 403,
        code: 'FORBIDDEN',
      });
    }
    expect(await store.get(task.taskId)).toEqual(before);
    expect((await stepOf(task.executionId)).status).toBe('Processing');
    expect(workflow.calls.length).toBe(calls);
  });

  it('lets the claimant go on after refused attempts: beat, complete, and complete again alike', async () => {
    // Arrange
    const task = await claimedByA();
    await expect(services.workers.complete(task.taskId, B, { activityStatus: 'Cancelled' })).rejects.toThrow(
      ForbiddenError,
    );

    // Act
    const beat = await services.workers.heartbeat(task.taskId, A, 'working');
    const first = await services.workers.complete(task.taskId, A, { activityStatus: 'CompleteWithWarning' });
    const again = await services.workers.complete(task.taskId, A, { activityStatus: 'CompleteWithWarning' });
    const withoutWorkerId = await services.workers.complete(
      task.taskId,
      { principal: keyA },
      { activityStatus: 'CompleteWithWarning' },
    );
    const afterwards = await services.workers.heartbeat(task.taskId, A, undefined);

    // Assert
    expect(beat).toEqual({ cancellationRequested: false });
    expect(first).toEqual({ accepted: true, stepStatus: 'Completed with Warning' });
    expect(again).toEqual(first);
    expect(withoutWorkerId).toEqual(first);
    expect(afterwards).toEqual({ cancellationRequested: true });
    await expect(services.workers.complete(task.taskId, B, { activityStatus: 'Complete' })).rejects.toThrow(
      ForbiddenError,
    );
    await expect(services.workers.heartbeat(task.taskId, B, undefined)).rejects.toThrow(ForbiddenError);
    expect(await stepOf(task.executionId)).toMatchObject({
      status: 'Completed with Warning',
      activityStatus: 'CompleteWithWarning',
    });
  });

  it("answers the claimant's repeated late report as the first time: not accepted", async () => {
    // Arrange: the execution is cancelled while the claimant runs the step.
    const task = await claimedByA();
    await services.executions.cancelActive(task.executionId, operator);

    // Act
    const first = await services.workers.complete(task.taskId, A, { activityStatus: 'Complete' });
    const again = await services.workers.complete(task.taskId, A, { activityStatus: 'Complete' });

    // Assert
    expect(first).toEqual({ accepted: false, stepStatus: 'Cancelled' });
    expect(again).toEqual(first);
    expect(workflow.calledWith('sendTaskSuccess')).toEqual([]);
  });

  it('makes the claimant a condition of the store writes themselves, not of an earlier read', async () => {
    // Arrange: the service's check is bypassed; only the write's condition stands.
    const claimed = await claimedByA();
    const task = await store.get(claimed.taskId);
    if (!task) throw new Error('no task');
    const patch = { status: 'Failed' as const, completedAt: new Date().toISOString() };
    const claimantB = { claimedBy: claimantOf(keyB), workerId: 'host-a' };
    const otherHost = { claimedBy: claimantOf(keyA), workerId: 'host-b' };

    // Act
    const touchedByB = await store.touch(task.taskId, claimantB, new Date().toISOString(), 'x');
    const touchedByOtherHost = await store.touch(task.taskId, otherHost, new Date().toISOString(), 'x');
    const completedByB = await store.complete(
      task,
      claimantB,
      { activityStatus: 'FailedWithError' },
      'now',
      patch,
    );
    const completedByOtherHost = await store.complete(
      task,
      otherHost,
      { activityStatus: 'FailedWithError' },
      'now',
      patch,
    );

    // Assert
    expect([touchedByB, touchedByOtherHost]).toEqual([false, false]);
    expect([completedByB, completedByOtherHost]).toEqual(['not-claimed', 'not-claimed']);
    expect(await store.get(task.taskId)).toEqual(task);
    expect((await stepOf(task.executionId)).status).toBe('Processing');
  });

  it("takes only the claimant's outcome when its complete and another key's race, 50 times over", async () => {
    const trials = 50;
    for (let trial = 0; trial < trials; trial += 1) {
      // Arrange
      const task = await claimedByA();
      const stored = await store.get(task.taskId);
      if (!stored) throw new Error('no task');
      const now = new Date().toISOString();

      // Act: through the service, and straight at the store with the same read task in hand.
      const [a, b, storeB] = await Promise.allSettled([
        services.workers.complete(task.taskId, A, { activityStatus: 'Complete' }),
        services.workers.complete(task.taskId, B, { activityStatus: 'FailedWithError' }),
        store.complete(
          stored,
          { claimedBy: claimantOf(keyB), workerId: A.workerId },
          { activityStatus: 'FailedWithError' },
          now,
          { status: 'Failed', completedAt: now },
        ),
      ]);

      // Assert
      expect(a).toEqual({ status: 'fulfilled', value: { accepted: true, stepStatus: 'Completed' } });
      expect(b.status === 'rejected' && b.reason).toBeInstanceOf(ForbiddenError);
      expect(storeB).toEqual({ status: 'fulfilled', value: 'not-claimed' });
      expect(await stepOf(task.executionId)).toMatchObject({
        status: 'Completed',
        activityStatus: 'Complete',
      });
      expect((await store.get(task.taskId))?.outcome).toEqual({ activityStatus: 'Complete' });
    }
    expect(workflow.calledWith('sendTaskSuccess')).toHaveLength(trials);
  }, 120_000);
});
