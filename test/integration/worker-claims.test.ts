import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqsQueueSignals } from '../../core/adapters/sqs/queue-signals.js';
import { ForbiddenError } from '../../core/errors.js';
import type { Principal } from '../../core/model.js';
import type { Services } from '../../core/services/index.js';
import { Orchestrator } from '../../core/services/orchestrator.js';
import { WakeUps } from '../../core/services/wake-ups.js';
import { type ClaimRequest, WorkerService } from '../../core/services/workers.js';
import type { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { type LocalSqsClient, startSqsClient } from '../helpers/sqs.js';
import type { TestClock } from './fixtures.js';
import { queuedSteps, servicesOnFreshTables, type TestStores } from './services.js';

/**
 * What a claim may take (the pools of its credential) and what becomes of tasks whose claim is not
 * answered: given back to the queue when the answer cannot be made, handed out again when the
 * worker repeats the claim's requestId. On DynamoDB Local; the only fault is injected in the
 * service's execution reads, the stores are the real ones.
 */

const everyPool: Principal = { type: 'ApiKey', id: 'key-all', name: 'any pool', roles: ['Worker'] };
const eastOnly: Principal = { ...everyPool, id: 'key-east', name: 'east only', pools: ['east'] };
const user: Principal = { type: 'User', id: 'sub-1', name: 'someone', roles: ['Worker'] };

const claimOf = (pools: string[], extra: Partial<ClaimRequest> = {}): ClaimRequest => ({
  workerId: 'host-1',
  pools,
  maxTasks: 5,
  waitSeconds: 0,
  ...extra,
});

describe('WorkerService claims on DynamoDB Local', () => {
  let services: Services;
  let workflow: RecordingWorkflow;
  let stores: TestStores;

  beforeEach(async () => {
    // Today's clock: the tasks' expiry is computed from it.
    ({ workflow, services, stores } = await servicesOnFreshTables(new Date()));
  });

  let made = 0;
  /** Runs a schedule of `count` parallel steps on `pool` and queues their tasks. */
  const queued = (pool: string, count = 1) => queuedSteps(services, `Claims ${++made}`, count, pool);

  const stepsOf = async (executionId: string) =>
    ((await services.executions.get(executionId)).steps ?? []).map((step) => step.status);

  /** The same service on the same stores, but its reads of execution steps fail `times` times. */
  function withStepReadsFailing(times: number) {
    let left = times;
    const flaky = Object.create(stores.executions, {
      // Describing the claimed tasks reads their steps with their executions.
      getWithSteps: {
        value: (...args: Parameters<TestStores['executions']['getWithSteps']>) => {
          left -= 1;
          return left >= 0
            ? Promise.reject(new Error('injected: step read failed'))
            : stores.executions.getWithSteps(...args);
        },
      },
    }) as TestStores['executions'];
    const wakeUps = new WakeUps({ executions: flaky, workflow });
    const orchestrator = new Orchestrator({ executions: flaky, tasks: stores.tasks, workflow, wakeUps });
    return new WorkerService({
      executions: flaky,
      tasks: stores.tasks,
      workers: stores.workers,
      workflow,
      heartbeatTimeoutSeconds: 30,
      orchestrator,
    });
  }

  describe('pools of the credential', () => {
    it('refuses a key a pool it may not serve, whole, and claims nothing', async () => {
      // Arrange
      const west = await queued('west');
      const east = await queued('east');

      // Act
      const refused = services.workers.claim(claimOf(['east', 'west']), eastOnly);

      // Assert
      await expect(refused).rejects.toBeInstanceOf(ForbiddenError);
      await expect(refused).rejects.toMatchObject({
        statusCode: 403,
        message: expect.stringMatching(/west/),
      });
      expect([...(await stepsOf(west)), ...(await stepsOf(east))]).toEqual(['Queued', 'Queued']);
    });

    it("gives a key its own pools' tasks", async () => {
      // Arrange
      const east = await queued('east');

      // Act
      const tasks = await services.workers.claim(claimOf(['east']), eastOnly);

      // Assert
      expect(tasks.map((task) => task.executionId)).toEqual([east]);
    });

    it.each([
      ['a key without pools', everyPool],
      ['an OIDC user', user],
    ])('lets %s claim from any pool', async (_name, principal) => {
      // Arrange
      const execution = await queued('anywhere');

      // Act
      const tasks = await services.workers.claim(claimOf(['anywhere']), principal);

      // Assert
      expect(tasks.map((task) => task.executionId)).toEqual([execution]);
    });
  });

  describe('claims that are not answered', () => {
    it('gives the tasks back to the queue when describing one fails, for the next claim to take', async () => {
      // Arrange
      const executionId = await queued('default', 2);
      const failing = withStepReadsFailing(1);

      // Act
      const first = failing.claim(claimOf(['default']), everyPool);
      await expect(first).rejects.toThrow('injected');
      const afterFailure = await stepsOf(executionId);
      const next = await services.workers.claim(claimOf(['default'], { workerId: 'host-2' }), everyPool);

      // Assert
      expect(afterFailure).toEqual(['Queued', 'Queued']);
      expect(next.map((task) => task.executionId)).toEqual([executionId, executionId]);
      for (const { taskId } of next) {
        expect(await stores.tasks.get(taskId)).toMatchObject({ status: 'Claimed', workerId: 'host-2' });
      }
    });

    it('leaves a released task alone once it is no longer held by that claim', async () => {
      // Arrange: claimed, given back, then claimed again by another claim.
      await queued('default');
      const [task] = await services.workers.claim(claimOf(['default'], { requestId: 'first' }), everyPool);
      const held = await stores.tasks.get(task?.taskId as string);
      if (!held) throw new Error('no task');
      await stores.tasks.release(held, 'first');
      await services.workers.claim(claimOf(['default'], { requestId: 'second' }), everyPool);
      const before = await stores.tasks.get(held.taskId);

      // Act: the first claim's release again, late.
      await stores.tasks.release(held, 'first');

      // Assert
      expect(before).toMatchObject({ status: 'Claimed', claimId: 'second' });
      expect(await stores.tasks.get(held.taskId)).toEqual(before);
    });

    it('answers a claim repeating its requestId with the tasks it took, and claims no more', async () => {
      // Arrange: three tasks queued, two taken.
      await queued('default', 3);
      const request = claimOf(['default'], { maxTasks: 2, requestId: 'req-1' });
      const first = await services.workers.claim(request, everyPool);

      // Act
      const again = await services.workers.claim(request, everyPool);

      // Assert
      expect(first).toHaveLength(2);
      expect(again).toEqual(first);
      expect(await stores.tasks.allQueued()).toHaveLength(1);
    });

    it('hands a requestId only the tasks of its own credential and workerId', async () => {
      // Arrange
      await queued('default');
      const [taken] = await services.workers.claim(claimOf(['default'], { requestId: 'shared' }), everyPool);

      // Act
      const otherKey = await services.workers.claim(claimOf(['default'], { requestId: 'shared' }), user);
      const otherWorker = await services.workers.claim(
        claimOf(['default'], { requestId: 'shared', workerId: 'host-2' }),
        everyPool,
      );

      // Assert
      expect(taken).toBeDefined();
      expect([otherKey, otherWorker]).toEqual([[], []]);
    });

    it('claims afresh under a requestId whose tasks were reported on', async () => {
      // Arrange
      await queued('default');
      const request = claimOf(['default'], { requestId: 'req-done' });
      const [task] = await services.workers.claim(request, everyPool);
      await services.workers.complete(
        task?.taskId as string,
        { principal: everyPool },
        { activityStatus: 'Complete' },
      );
      const later = await queued('default');

      // Act
      const again = await services.workers.claim(request, everyPool);

      // Assert
      expect(again.map((t) => t.executionId)).toEqual([later]);
    });
  });
});

describe('WorkerService claims woken by the wake-up queues (DynamoDB Local, local SQS)', () => {
  let sqs: LocalSqsClient;
  let services: Services;
  let signals: SqsQueueSignals;
  let clock: TestClock;
  let made = 0;

  beforeAll(async () => {
    sqs = await startSqsClient();
  });
  afterAll(() => sqs.stop());

  beforeEach(async () => {
    made += 1;
    signals = new SqsQueueSignals(sqs.client, `claims-${made}-`);
    ({ services, clock } = await servicesOnFreshTables(new Date(), { signals }));
  });

  /** Queues `count` parallel steps of a new execution on `pool`. */
  let runs = 0;
  const queueSteps = (count: number, pool = 'east') =>
    queuedSteps(services, `Woken ${made}.${++runs}`, count, pool);

  it('hands a task queued during the wait to the waiting claim, which looked at the table only when it began', async () => {
    // Arrange: a 15 s claim looks at the table at its start and then only after 20 s.
    const waiting = services.workers.claim(claimOf(['east'], { waitSeconds: 15 }), everyPool);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Act
    const executionId = await queueSteps(1);

    // Assert: only the signal can have brought it before the wait ended.
    expect((await waiting).map((task) => task.executionId)).toEqual([executionId]);
  });

  it("does not take another pool's task that a signal of its own pool names", async () => {
    // Arrange: a west task, and a claim serving east only.
    const west = await queueSteps(1, 'west');
    await signals.next(['west'], 0, 10); // its own signal, out of the way
    const [westTask] = await services.executions.get(west).then((e) => e.steps ?? []);
    const waiting = services.workers.claim(claimOf(['east'], { waitSeconds: 2 }), everyPool);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Act: a signal in east's queue naming the west task.
    await signals.queued('east', westTask?.taskId as string);

    // Assert
    expect(await waiting).toEqual([]);
    expect((await services.executions.get(west)).steps?.map((step) => step.status)).toEqual(['Queued']);
  });

  it('claims each task once when more claims wait than tasks are queued', async () => {
    // Arrange
    const claims = Array.from({ length: 5 }, (_, n) =>
      services.workers.claim(
        claimOf(['east'], { workerId: `host-${n}`, maxTasks: 1, waitSeconds: 3 }),
        everyPool,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Act
    await queueSteps(3);
    const answers = await Promise.all(claims);

    // Assert
    const taken = answers.flat().map((task) => task.taskId);
    expect(taken).toHaveLength(3);
    expect(new Set(taken).size).toBe(3);
    expect(answers.map((answer) => answer.length).sort()).toEqual([0, 0, 1, 1, 1]);
  });

  const stepsOf = async (executionId: string) =>
    ((await services.executions.get(executionId)).steps ?? []).map((step) => step.status);

  /** The signals waiting in `pool`'s queue now, received (hidden from claims until their visibility lapses). */
  const receiveSignals = (pool = 'east') => signals.next([pool], 0, 10);

  it('takes the task a waiting signal names before the older ones the table lists', async () => {
    // Arrange: nine tasks whose signals another claim holds, then one whose signal waits.
    const held = await queueSteps(9);
    expect(await receiveSignals()).toHaveLength(9);
    clock.advance(1000);
    const signalled = await queueSteps(1);

    // Act
    const [task] = await services.workers.claim(claimOf(['east'], { maxTasks: 1 }), everyPool);

    // Assert: SQS gave the signal to this claim alone; the table's nine are left to their holder.
    expect(task?.executionId).toBe(signalled);
    expect(await stepsOf(held)).toEqual(Array(9).fill('Queued'));
  });

  it('takes a task queued longer ago than a signal lasts before any task a signal names', async () => {
    // Arrange: a task whose signal is gone, queued a signal's lifetime before four signalled ones.
    const unsignalled = await queueSteps(1);
    await signals.done(await receiveSignals());
    clock.advance(signals.lifetimeMs + 1000);
    const signalled = await queueSteps(4);

    // Act
    const first = await services.workers.claim(claimOf(['east'], { maxTasks: 1 }), everyPool);
    const rest = await services.workers.claim(claimOf(['east']), everyPool);

    // Assert: only the table can find it, so it goes first; the signalled ones follow.
    expect(first.map((task) => task.executionId)).toEqual([unsignalled]);
    expect(rest.map((task) => task.executionId)).toEqual(Array(4).fill(signalled));
  });

  it('takes a task from the table when no signal waits for it (its signal lost)', async () => {
    // Arrange
    const lost = await queueSteps(1);
    await signals.done(await receiveSignals());

    // Act
    const claimed = await services.workers.claim(claimOf(['east']), everyPool);

    // Assert
    expect(claimed.map((task) => task.executionId)).toEqual([lost]);
  });
});
