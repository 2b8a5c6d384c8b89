import { beforeEach, describe, expect, it } from 'vitest';
import { ForbiddenError } from '../../core/errors.js';
import type { Principal } from '../../core/model.js';
import { ExecutionStep } from '../../core/schemas/execution.js';
import { claimantOf } from '../../core/services/workers.js';
import { SEED_STEP_FIELDS } from '../helpers/seed-fields.js';
import { operator } from './fixtures.js';
import { type FreshServices, runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * A claimed task belongs to the credential that claimed it and the workerId it claimed as: the
 * service refuses anyone else, and the store's writes carry the claimant as their condition.
 */

const keyA: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key A', roles: ['Worker'] };
const keyB: Principal = { type: 'ApiKey', id: 'key-b', name: 'worker key B', roles: ['Worker'] };
const A = { principal: keyA, workerId: 'host-a' };
const B = { principal: keyB, workerId: 'host-b' };

describe('WorkerService and DynamoWorkerTaskStore: tasks bound to their claimant', () => {
  let fresh: FreshServices;

  beforeEach(async () => {
    // Today, not the fixtures' default day: that is past the tasks' expiry, and DynamoDB Local's TTL
    // would delete them under the test.
    fresh = await servicesOnFreshTables(new Date());
  });

  let made = 0;
  /** Runs a one-step schedule and has key A claim its task as host-a. */
  async function claimedByA() {
    made += 1;
    const executionId = await runOfNewSchedule(fresh.services, `Claimed ${made}`, [
      { name: 'Only', stepType: 'Executable', executablePath: '/bin/true' },
    ]);
    await fresh.services.orchestrator.advance(executionId);
    await fresh.services.orchestrator.enqueueStep(executionId, 0, `token-${made}`);
    const [task] = await fresh.services.workers.claim(
      { workerId: A.workerId, pools: ['default'], maxTasks: 1, waitSeconds: 0 },
      keyA,
    );
    if (!task) throw new Error('key A claimed nothing');
    return task;
  }

  const stepOf = async (executionId: string) =>
    (await fresh.services.executions.get(executionId)).steps?.[0] as {
      status: string;
      activityStatus: string;
    };

  it('records the claiming credential and workerId on the task', async () => {
    const claimed = await claimedByA();

    const task = await fresh.stores.tasks.get(claimed.taskId);

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
    const before = await fresh.stores.tasks.get(task.taskId);
    const calls = fresh.workflow.calls.length;

    // Act
    const [beat, complete] = await Promise.allSettled([
      fresh.services.workers.heartbeat(task.taskId, caller, 'not mine'),
      fresh.services.workers.complete(task.taskId, caller, { activityStatus: 'FailedWithError' }),
    ]);

    // Assert
    for (const refused of [beat, complete]) {
      expect(refused.status === 'rejected' && refused.reason).toBeInstanceOf(ForbiddenError);
      expect(refused.status === 'rejected' && refused.reason).toMatchObject({
        statusCode: 403,
        code: 'FORBIDDEN',
      });
    }
    expect(await fresh.stores.tasks.get(task.taskId)).toEqual(before);
    expect((await stepOf(task.executionId)).status).toBe('Processing');
    expect(fresh.workflow.calls.length).toBe(calls);
  });

  it('lets the claimant go on after refused attempts: beat, complete, and complete again alike', async () => {
    // Arrange
    const task = await claimedByA();
    await expect(
      fresh.services.workers.complete(task.taskId, B, { activityStatus: 'Cancelled' }),
    ).rejects.toThrow(ForbiddenError);

    // Act
    const beat = await fresh.services.workers.heartbeat(task.taskId, A, 'working');
    const first = await fresh.services.workers.complete(task.taskId, A, {
      activityStatus: 'CompleteWithWarning',
    });
    const again = await fresh.services.workers.complete(task.taskId, A, {
      activityStatus: 'CompleteWithWarning',
    });
    const withoutWorkerId = await fresh.services.workers.complete(
      task.taskId,
      { principal: keyA },
      { activityStatus: 'CompleteWithWarning' },
    );
    const afterwards = await fresh.services.workers.heartbeat(task.taskId, A, undefined);

    // Assert
    expect(beat).toEqual({ cancellationRequested: false });
    expect(first).toEqual({ accepted: true, stepStatus: 'Completed with Warning' });
    expect(again).toEqual(first);
    expect(withoutWorkerId).toEqual(first);
    expect(afterwards).toEqual({ cancellationRequested: true });
    await expect(
      fresh.services.workers.complete(task.taskId, B, { activityStatus: 'Complete' }),
    ).rejects.toThrow(ForbiddenError);
    await expect(fresh.services.workers.heartbeat(task.taskId, B, undefined)).rejects.toThrow(ForbiddenError);
    expect(await stepOf(task.executionId)).toMatchObject({
      status: 'Completed with Warning',
      activityStatus: 'CompleteWithWarning',
    });
  });

  it("answers the claimant's repeated late report as the first time: not accepted", async () => {
    // Arrange: the execution is cancelled while the claimant runs the step.
    const task = await claimedByA();
    await fresh.services.executions.cancelActive(task.executionId, operator);

    // Act
    const first = await fresh.services.workers.complete(task.taskId, A, { activityStatus: 'Complete' });
    const again = await fresh.services.workers.complete(task.taskId, A, { activityStatus: 'Complete' });

    // Assert
    expect(first).toEqual({ accepted: false, stepStatus: 'Cancelled' });
    expect(again).toEqual(first);
    expect(fresh.workflow.calledWith('sendTaskSuccess')).toEqual([]);
  });

  it('makes the claimant a condition of the store writes themselves, not of an earlier read', async () => {
    // Arrange: the service's check is bypassed; only the write's condition stands.
    const claimed = await claimedByA();
    const task = await fresh.stores.tasks.get(claimed.taskId);
    if (!task) throw new Error('no task');
    const patch = { status: 'Failed' as const, completedAt: new Date().toISOString() };
    const claimantB = { claimedBy: claimantOf(keyB), workerId: 'host-a' };
    const otherHost = { claimedBy: claimantOf(keyA), workerId: 'host-b' };

    // Act
    const touchedByB = await fresh.stores.tasks.touch(task.taskId, claimantB, new Date().toISOString(), 'x');
    const touchedByOtherHost = await fresh.stores.tasks.touch(
      task.taskId,
      otherHost,
      new Date().toISOString(),
      'x',
    );
    const completedByB = await fresh.stores.tasks.complete(
      task,
      claimantB,
      { activityStatus: 'FailedWithError' },
      'now',
      patch,
    );
    const completedByOtherHost = await fresh.stores.tasks.complete(
      task,
      otherHost,
      { activityStatus: 'FailedWithError' },
      'now',
      patch,
    );

    // Assert
    expect([touchedByB, touchedByOtherHost]).toEqual([false, false]);
    expect([completedByB, completedByOtherHost]).toEqual(['not-claimed', 'not-claimed']);
    expect(await fresh.stores.tasks.get(task.taskId)).toEqual(task);
    expect((await stepOf(task.executionId)).status).toBe('Processing');
  });

  it("takes only the claimant's outcome when its complete and another key's race, 50 times over", async () => {
    const trials = 50;
    for (let trial = 0; trial < trials; trial += 1) {
      // Arrange
      const task = await claimedByA();
      const stored = await fresh.stores.tasks.get(task.taskId);
      if (!stored) throw new Error('no task');
      const now = new Date().toISOString();

      // Act: through the service, and straight at the store with the same read task in hand.
      const [a, b, storeB] = await Promise.allSettled([
        fresh.services.workers.complete(task.taskId, A, { activityStatus: 'Complete' }),
        fresh.services.workers.complete(task.taskId, B, { activityStatus: 'FailedWithError' }),
        fresh.stores.tasks.complete(
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
      expect((await fresh.stores.tasks.get(task.taskId))?.outcome).toEqual({ activityStatus: 'Complete' });
    }
    expect(fresh.workflow.calledWith('sendTaskSuccess')).toHaveLength(trials);
  }, 120_000);

  describe('run insight on the step', () => {
    const insightOf = async (executionId: string) => {
      const step = (await fresh.services.executions.get(executionId)).steps[0];
      if (!step) throw new Error('no step');
      const { output, progressMessage, lastHeartbeatAt, workerId } = step;
      return { output, progressMessage, lastHeartbeatAt, workerId };
    };
    const later = (seconds: number) => {
      fresh.clock.set(new Date(fresh.clock.now().getTime() + seconds * 1000));
      return fresh.clock.now().toISOString();
    };

    it('shows the heartbeat message, time, worker and output while running, and the output at the end', async () => {
      // Arrange
      const claimedAt = fresh.clock.now().toISOString();
      const task = await claimedByA();
      const beforeBeat = await insightOf(task.executionId);

      // Act
      const beatAt = later(5);
      await fresh.services.workers.heartbeat(task.taskId, A, 'importing 2 of 3', 'line 1\nline 2\n');
      const running = await insightOf(task.executionId);
      later(5);
      await fresh.services.workers.complete(task.taskId, A, {
        activityStatus: 'Complete',
        output: 'line 1\nline 2\nline 3\n',
      });
      const detail = await fresh.services.executions.get(task.executionId);

      // Assert
      expect(beforeBeat).toEqual({
        output: null,
        progressMessage: null,
        lastHeartbeatAt: claimedAt,
        workerId: 'host-a',
      });
      expect(running).toEqual({
        output: 'line 1\nline 2\n',
        progressMessage: 'importing 2 of 3',
        lastHeartbeatAt: beatAt,
        workerId: 'host-a',
      });
      expect(detail.steps[0]).toMatchObject({
        status: 'Completed',
        output: 'line 1\nline 2\nline 3\n',
        progressMessage: 'importing 2 of 3',
        lastHeartbeatAt: beatAt,
        workerId: 'host-a',
      });
      // Kept on the step row itself once ended: no task to read any more.
      expect(await fresh.stores.executions.getStep(task.executionId, 0)).toMatchObject({
        output: 'line 1\nline 2\nline 3\n',
        progressMessage: 'importing 2 of 3',
        lastHeartbeatAt: beatAt,
        workerId: 'host-a',
      });
      // The seed page's fields first, in its order, then the additive ones, run insight last.
      const keys = Object.keys(detail.steps[0] ?? {});
      expect(keys.slice(0, SEED_STEP_FIELDS.length)).toEqual(SEED_STEP_FIELDS);
      // Every field of the schema, in its order, but `carriedOver`: that one is on a retry's steps only.
      expect(keys).toEqual(Object.keys(ExecutionStep.shape).filter((key) => key !== 'carriedOver'));
      expect(keys.slice(-4)).toEqual(['output', 'progressMessage', 'lastHeartbeatAt', 'workerId']);
      expect(Object.keys(detail).slice(0, 3)).toEqual(['id', 'scheduleId', 'scheduleName']);
      expect(Object.keys(detail).at(-1)).toBe('steps');
    });

    it('keeps the output of the latest heartbeat when the completion brings none', async () => {
      const task = await claimedByA();
      await fresh.services.workers.heartbeat(task.taskId, A, 'first', 'so far');
      await fresh.services.workers.heartbeat(task.taskId, A, undefined);
      const afterBeats = await insightOf(task.executionId);

      await fresh.services.workers.complete(task.taskId, A, { activityStatus: 'CompleteWithWarning' });

      expect(afterBeats).toMatchObject({ output: 'so far', progressMessage: null });
      expect(await insightOf(task.executionId)).toMatchObject({ output: 'so far', progressMessage: null });
    });

    it('keeps the newest 16 KB (UTF-8) of an output over 16 KB, never splitting a character', async () => {
      // Arrange: 3-byte characters, so 16 384 bytes fall inside one.
      const long = `${'first line\n'}${'€'.repeat(7000)}\nlast line`;
      const task = await claimedByA();

      // Act
      await fresh.services.workers.heartbeat(task.taskId, A, 'busy', long);
      const running = (await insightOf(task.executionId)).output ?? '';
      await fresh.services.workers.complete(task.taskId, A, {
        activityStatus: 'Complete',
        output: `${long}!`,
      });
      const ended = (await insightOf(task.executionId)).output ?? '';

      // Assert
      for (const [kept, full] of [
        [running, long],
        [ended, `${long}!`],
      ] as const) {
        expect(Buffer.byteLength(full)).toBeGreaterThan(16 * 1024);
        expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(16 * 1024);
        expect(Buffer.byteLength(kept)).toBeGreaterThan(16 * 1024 - 3);
        expect(full.endsWith(kept)).toBe(true);
        expect(kept.startsWith('€')).toBe(true);
        expect(kept).not.toContain('\uFFFD');
      }
    });

    it('shows what the worker last reported on a step that ended without it (cancelled)', async () => {
      const task = await claimedByA();
      const beatAt = later(3);
      await fresh.services.workers.heartbeat(task.taskId, A, 'step 4 of 9', 'partial output');

      await fresh.services.executions.cancelActive(task.executionId, {
        type: 'User',
        id: 'u-1',
        name: 'operator',
      });

      expect((await fresh.services.executions.get(task.executionId)).steps[0]).toMatchObject({
        status: 'Cancelled',
        output: 'partial output',
        progressMessage: 'step 4 of 9',
        lastHeartbeatAt: beatAt,
        workerId: 'host-a',
      });
    });
  });
});
