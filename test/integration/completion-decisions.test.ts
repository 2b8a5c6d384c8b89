import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../core/model.js';
import { BACKSTOP_MARGIN_SECONDS, DEFAULT_ORCHESTRATOR_SETTINGS } from '../../core/services/orchestrator.js';
import { WorkerService } from '../../core/services/workers.js';
import { type FreshServices, runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * A completion of a task RunSingleStep awaits carries the next move (what Advance would answer) as
 * its SendTaskSuccess output, so the state machine skips the Advance state; any other task's
 * completion, or one whose decision fails, carries none and Advance decides (over DynamoDB Local).
 */

const key: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key', roles: ['Worker'] };
const worker = { principal: key, workerId: 'host-a' };

describe('WorkerService.complete: the next move in the completion', () => {
  let fresh: FreshServices;

  beforeEach(async () => {
    // Today: tasks expire from the clock, and DynamoDB Local's TTL runs.
    fresh = await servicesOnFreshTables(new Date());
  });

  let made = 0;
  /** A new run of two sequential steps, started (Advance), its first step queued with `token`. */
  async function runOfTwoSteps(token: string, decidesNext: boolean) {
    made += 1;
    const executionId = await runOfNewSchedule(fresh.services, `Decisions ${made}`, [
      { name: 'First', stepType: 'Executable', executablePath: '/bin/true' },
      { name: 'Second', stepType: 'Executable', executablePath: '/bin/true' },
    ]);
    await fresh.services.orchestrator.advance(executionId);
    await fresh.services.orchestrator.enqueueStep(executionId, 0, token, decidesNext);
    return executionId;
  }

  async function claimOne() {
    const [task] = await fresh.services.workers.claim(
      { workerId: worker.workerId, pools: ['default'], maxTasks: 1, waitSeconds: 0 },
      key,
    );
    if (!task) throw new Error('claimed nothing');
    return task;
  }

  const complete = (taskId: string, workers = fresh.services.workers) =>
    workers.complete(taskId, worker, { activityStatus: 'Complete' });

  const sentTo = (token: string) =>
    fresh.workflow
      .calledWith('sendTaskSuccess')
      .filter(([sent]) => sent === token)
      .map(([, output]) => output);

  const runOf = (ordinal: number, stageIndex: number) => ({
    action: 'run',
    stageIndex,
    steps: [
      {
        ordinal,
        backstopSeconds: DEFAULT_ORCHESTRATOR_SETTINGS.queueTimeoutSeconds + 3600 + BACKSTOP_MARGIN_SECONDS,
        heartbeatSeconds: DEFAULT_ORCHESTRATOR_SETTINGS.heartbeatTimeoutSeconds,
      },
    ],
  });

  it('sends the next stage for RunSingleStep, having moved the execution to it as Advance would', async () => {
    // Arrange
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne();

    // Act
    const answer = await complete(task.taskId);

    // Assert
    expect(answer).toEqual({ accepted: true, stepStatus: 'Completed' });
    const [output] = sentTo('token-first');
    expect(output).toMatchObject({ action: 'run', stageIndex: 1, steps: [{ ordinal: 1 }] });
    expect(output).toEqual(runOf(1, 1));
    expect(await fresh.services.executions.get(executionId)).toMatchObject({ currentStepIndex: 1 });
  });

  it('sends finished after the last step, the execution Completed', async () => {
    // Arrange
    const executionId = await runOfTwoSteps('token-first', true);
    await complete((await claimOne()).taskId);
    await fresh.services.orchestrator.enqueueStep(executionId, 1, 'token-second', true);

    // Act
    await complete((await claimOne()).taskId);

    // Assert
    expect(sentTo('token-second')).toEqual([{ action: 'finished', status: 'Completed' }]);
    expect((await fresh.services.executions.get(executionId)).status).toBe('Completed');
  });

  it('sends wait when the execution was paused meanwhile, the next stage held', async () => {
    // Arrange
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne();
    await fresh.services.executions.pause(executionId);

    // Act
    await complete(task.taskId);

    // Assert
    expect(sentTo('token-first')).toEqual([
      { action: 'wait', waitSeconds: DEFAULT_ORCHESTRATOR_SETTINGS.waitSeconds },
    ]);
    const execution = await fresh.services.executions.get(executionId);
    expect(execution.steps?.map((step) => step.status)).toEqual(['Completed', 'Waiting']);
  });

  it('decides nothing for a task a Map item awaits: Advance does, after the stage', async () => {
    // Arrange
    const executionId = await runOfTwoSteps('token-in-map', false);
    const task = await claimOne();

    // Act
    await complete(task.taskId);

    // Assert
    expect(sentTo('token-in-map')).toEqual([{ activityStatus: 'Complete' }]);
    expect(await fresh.services.executions.get(executionId)).toMatchObject({ currentStepIndex: 0 });
  });

  it('decides for the state awaiting the newest token when a restarted state machine enqueues again', async () => {
    // Arrange: first awaited in a Map, then (after a restart) by RunSingleStep, and the reverse.
    await runOfTwoSteps('token-old', false);
    const task = await claimOne();
    const executionId = task.executionId;
    await fresh.services.orchestrator.enqueueStep(executionId, 0, 'token-new', true);

    // Act
    await complete(task.taskId);

    // Assert
    expect(sentTo('token-old')).toEqual([]);
    expect(sentTo('token-new')).toEqual([runOf(1, 1)]);
    expect(await fresh.stores.tasks.get(task.taskId)).toMatchObject({ decidesNext: true });
  });

  it('sends the same decision again for a retried report, moving nothing further', async () => {
    // Arrange: the first answer was lost after the state machine had heard it and queued step 2.
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne();
    await complete(task.taskId);
    await fresh.services.orchestrator.enqueueStep(executionId, 1, 'token-second', true);

    // Act
    const again = await complete(task.taskId);

    // Assert
    expect(again).toEqual({ accepted: true, stepStatus: 'Completed' });
    expect(sentTo('token-first')).toEqual([runOf(1, 1), runOf(1, 1)]);
    const execution = await fresh.services.executions.get(executionId);
    expect(execution).toMatchObject({ status: 'InProgress', currentStepIndex: 1 });
    expect(execution.steps?.map((step) => step.status)).toEqual(['Completed', 'Queued']);
  });

  it('completes without a decision when deciding fails, and reports the failure', async () => {
    // Arrange: the same stores and workflow, an orchestrator whose advance fails.
    const failures: [string, unknown][] = [];
    const broken = new Error('injected: advance failed');
    const workers = new WorkerService({
      executions: fresh.stores.executions,
      tasks: fresh.stores.tasks,
      workers: fresh.stores.workers,
      workflow: fresh.workflow,
      heartbeatTimeoutSeconds: DEFAULT_ORCHESTRATOR_SETTINGS.heartbeatTimeoutSeconds,
      orchestrator: {
        timeOutIfOverdue: (...args) => fresh.services.orchestrator.timeOutIfOverdue(...args),
        advance: () => Promise.reject(broken),
      },
      onDecisionFailure: (executionId, error) => failures.push([executionId, error]),
    });
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne();

    // Act
    const answer = await complete(task.taskId, workers);

    // Assert: the outcome stands; the state machine is told, without a move, so Advance decides.
    expect(answer).toEqual({ accepted: true, stepStatus: 'Completed' });
    expect(sentTo('token-first')).toEqual([{ activityStatus: 'Complete' }]);
    expect(failures).toEqual([[executionId, broken]]);
    const execution = await fresh.services.executions.get(executionId);
    expect(execution).toMatchObject({ currentStepIndex: 0 });
    expect(execution.steps?.map((step) => step.status)).toEqual(['Completed', 'Pending']);
  });
});
