import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../core/model.js';
import type { NextMove } from '../../core/services/orchestrator.js';
import { canceller } from './fixtures.js';
import { type FreshServices, runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * enqueueStep given the step's pool (Advance's move names it, and the state machine passes it on)
 * queues the task without reading the execution or the step: the enqueue's condition on the step's
 * status decides, and only a refused enqueue reads, to tell why. Over DynamoDB Local.
 */

const key: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key', roles: ['Worker'] };

describe('Orchestrator.enqueueStep with the pool of the move', () => {
  let fresh: FreshServices;
  let made = 0;

  beforeEach(async () => {
    // Today: tasks expire from the clock, and DynamoDB Local's TTL runs.
    fresh = await servicesOnFreshTables(new Date());
  });

  /** A started run of one step on pool `east`; answers its id and the step Advance asks to run. */
  async function started() {
    made += 1;
    const executionId = await runOfNewSchedule(fresh.services, `Enqueue ${made}`, [
      { name: 'Only', stepType: 'Executable', executablePath: '/bin/true', workerPool: 'east' },
    ]);
    const move = (await fresh.services.orchestrator.advance(executionId)) as Extract<
      NextMove,
      { action: 'run' }
    >;
    const [step] = move.steps;
    if (!step) throw new Error('Advance ran no step');
    return { executionId, step };
  }

  const claimEast = () =>
    fresh.services.workers.claim({ workerId: 'host-a', pools: ['east'], maxTasks: 5, waitSeconds: 0 }, key);
  const stepStatus = async (executionId: string) =>
    (await fresh.services.executions.get(executionId)).steps?.[0]?.status;

  it('queues the task on that pool without reading the execution or the step', async () => {
    // Arrange
    const { executionId, step } = await started();
    const reads = vi.spyOn(fresh.stores.executions, 'getWithStep');

    // Act
    await fresh.services.orchestrator.enqueueStep(executionId, step.ordinal, 'token-1', { pool: step.pool });

    // Assert
    expect(step.pool).toBe('east');
    expect(reads).not.toHaveBeenCalled();
    expect(await stepStatus(executionId)).toBe('Queued');
    const [task] = await claimEast();
    expect(task?.executionId).toBe(executionId);
    expect((await fresh.stores.tasks.get(task?.taskId as string))?.taskToken).toBe('token-1');
  });

  it('answers the token skipped, queuing nothing, when the execution was cancelled first', async () => {
    // Arrange
    const { executionId, step } = await started();
    await fresh.services.executions.cancelActive(executionId, canceller);

    // Act
    await fresh.services.orchestrator.enqueueStep(executionId, step.ordinal, 'token-1', { pool: step.pool });

    // Assert
    expect(fresh.workflow.calledWith('sendTaskSuccess')).toEqual([['token-1', { skipped: true }]]);
    expect(await stepStatus(executionId)).toBe('Cancelled');
    expect(await claimEast()).toEqual([]);
  });

  it('gives the task it queued before the newer token when enqueueStep comes again, queuing no second one', async () => {
    // Arrange: the first enqueue's answer was lost, and the state machine retried it.
    const { executionId, step } = await started();
    await fresh.services.orchestrator.enqueueStep(executionId, step.ordinal, 'token-1', { pool: step.pool });

    // Act
    await fresh.services.orchestrator.enqueueStep(executionId, step.ordinal, 'token-2', { pool: step.pool });

    // Assert
    const claimed = await claimEast();
    expect(claimed).toHaveLength(1);
    expect((await fresh.stores.tasks.get(claimed[0]?.taskId as string))?.taskToken).toBe('token-2');
  });

  it('leaves nothing to run when a cancel races the enqueue (20 rounds)', async () => {
    for (let round = 0; round < 20; round++) {
      // Arrange
      const { executionId, step } = await started();

      // Act
      await Promise.all([
        fresh.services.orchestrator.enqueueStep(executionId, step.ordinal, `token-${round}`, {
          pool: step.pool,
        }),
        fresh.services.executions.cancelActive(executionId, canceller),
      ]);

      // Assert: whichever came first, the step ended Cancelled and no worker gets it.
      expect(await stepStatus(executionId)).toBe('Cancelled');
      expect(await claimEast()).toEqual([]);
    }
  });
});
