import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../core/model.js';
import { BACKSTOP_MARGIN_SECONDS, DEFAULT_ORCHESTRATOR_SETTINGS } from '../../core/services/orchestrator.js';
import { WorkerService } from '../../core/services/workers.js';
import { operator } from './fixtures.js';
import { type FreshServices, runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * A completion of a task RunSingleStep awaits carries the next move (what Advance would answer) as
 * its SendTaskSuccess output, so the state machine skips the Advance state; any other task's
 * completion, or one whose decision fails, carries none and Advance decides (over DynamoDB Local).
 */

const key: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key', roles: ['Worker'] };
const worker = { principal: key, workerId: 'host-a' };

/** Claims the one task of the default pool, as `worker`. */
async function claimOne(fresh: FreshServices) {
  const [task] = await fresh.services.workers.claim(
    { workerId: worker.workerId, pools: ['default'], maxTasks: 1, waitSeconds: 0 },
    key,
  );
  if (!task) throw new Error('claimed nothing');
  return task;
}

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
    await fresh.services.orchestrator.enqueueStep(executionId, 0, token, { decidesNext });
    return executionId;
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
        pool: 'default',
        backstopSeconds: DEFAULT_ORCHESTRATOR_SETTINGS.queueTimeoutSeconds + 3600 + BACKSTOP_MARGIN_SECONDS,
        heartbeatSeconds: DEFAULT_ORCHESTRATOR_SETTINGS.heartbeatTimeoutSeconds,
      },
    ],
  });

  it('sends the next stage for RunSingleStep, having moved the execution to it as Advance would', async () => {
    // Arrange
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne(fresh);

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
    await complete((await claimOne(fresh)).taskId);
    await fresh.services.orchestrator.enqueueStep(executionId, 1, 'token-second', { decidesNext: true });

    // Act
    await complete((await claimOne(fresh)).taskId);

    // Assert
    expect(sentTo('token-second')).toEqual([{ action: 'finished', status: 'Completed' }]);
    expect((await fresh.services.executions.get(executionId)).status).toBe('Completed');
  });

  it('sends wait when the execution was paused meanwhile, the next stage held', async () => {
    // Arrange
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne(fresh);
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
    const task = await claimOne(fresh);

    // Act
    await complete(task.taskId);

    // Assert
    expect(sentTo('token-in-map')).toEqual([{ activityStatus: 'Complete' }]);
    expect(await fresh.services.executions.get(executionId)).toMatchObject({ currentStepIndex: 0 });
  });

  it('decides for the state awaiting the newest token when a restarted state machine enqueues again', async () => {
    // Arrange: first awaited in a Map, then (after a restart) by RunSingleStep, and the reverse.
    await runOfTwoSteps('token-old', false);
    const task = await claimOne(fresh);
    const executionId = task.executionId;
    await fresh.services.orchestrator.enqueueStep(executionId, 0, 'token-new', { decidesNext: true });

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
    const task = await claimOne(fresh);
    await complete(task.taskId);
    await fresh.services.orchestrator.enqueueStep(executionId, 1, 'token-second', { decidesNext: true });

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
        decideAfter: () => Promise.reject(broken),
        handedOnFrom: (...args) => fresh.services.orchestrator.handedOnFrom(...args),
      },
      onDecisionFailure: (executionId, error) => failures.push([executionId, error]),
    });
    const executionId = await runOfTwoSteps('token-first', true);
    const task = await claimOne(fresh);

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

describe('WorkerService.complete: handing the RunSingleStep token on to the next one-step stage', () => {
  let fresh: FreshServices;

  beforeEach(async () => {
    fresh = await servicesOnFreshTables(new Date());
  });

  /** A step's own backstop: what the state machine allows past its queue limit and timeout (1 h). */
  const OWN_BACKSTOP = DEFAULT_ORCHESTRATOR_SETTINGS.queueTimeoutSeconds + 3600 + BACKSTOP_MARGIN_SECONDS;
  const TOKEN = 'token-run';

  let made = 0;
  /**
   * A new run of `modes` (a step each), started by Advance, its first stage queued as RunSingleStep
   * queues it: with the token and the backstop Advance decided (or `backstopSeconds`).
   */
  async function startRun(modes: string[], backstopSeconds?: number) {
    made += 1;
    const executionId = await runOfNewSchedule(
      fresh.services,
      `Hand-on ${made}`,
      modes.map((executionMode, i) => ({
        name: `Step ${i}`,
        stepType: 'Executable',
        executablePath: '/bin/true',
        executionMode,
      })),
    );
    const move = await fresh.services.orchestrator.advance(executionId);
    if (move.action !== 'run' || !move.steps[0]) throw new Error(`expected a run, got ${move.action}`);
    const decided = move.steps[0].backstopSeconds;
    await fresh.services.orchestrator.enqueueStep(executionId, 0, TOKEN, {
      decidesNext: true,
      backstopSeconds: backstopSeconds ?? decided,
    });
    return { executionId, decided };
  }

  const complete = (taskId: string) =>
    fresh.services.workers.complete(taskId, worker, { activityStatus: 'Complete' });
  const answers = (method: 'sendTaskSuccess' | 'sendTaskHeartbeat') =>
    fresh.workflow.calledWith(method).filter(([token]) => token === TOKEN);
  const stepStatuses = async (executionId: string) =>
    (await fresh.services.executions.get(executionId)).steps?.map((step) => step.status);
  const taskOf = async (executionId: string, ordinal: number) => {
    const step = await fresh.stores.executions.getStep(executionId, ordinal);
    return step?.taskId ? fresh.stores.tasks.get(step.taskId) : undefined;
  };

  it('keeps one token through a run of one-step stages and answers it only with the end', async () => {
    // Arrange: three sequential steps; the first one's timeout covers all three.
    const { executionId, decided } = await startRun(['Sequential', 'Sequential', 'Sequential']);
    const first = await taskOf(executionId, 0);

    // Act
    for (let i = 0; i < 3; i++)
      expect(await complete((await claimOne(fresh)).taskId)).toMatchObject({ accepted: true });

    // Assert: no answer until the end; each step after the first got the token, its deadline and a
    // fresh heartbeat clock; the execution ended as Advance would have ended it.
    expect(decided).toBe(3 * OWN_BACKSTOP);
    expect(answers('sendTaskSuccess')).toEqual([[TOKEN, { action: 'finished', status: 'Completed' }]]);
    expect(answers('sendTaskHeartbeat')).toHaveLength(2);
    for (const ordinal of [1, 2]) {
      expect(await taskOf(executionId, ordinal)).toMatchObject({
        taskToken: TOKEN,
        decidesNext: true,
        backstopAt: first?.backstopAt,
        status: 'Completed',
      });
    }
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Completed', 'Completed']);
    expect(await fresh.services.executions.get(executionId)).toMatchObject({ status: 'Completed' });
  });

  it('answers with the move when the stages left would not fit in what remains of the timeout', async () => {
    // Arrange: a token whose timeout is a second short of what the step after the first needs.
    const { executionId } = await startRun(['Sequential', 'Sequential'], OWN_BACKSTOP - 1);

    // Act
    await complete((await claimOne(fresh)).taskId);

    // Assert: RunSingleStep ends; Route will run step 1 with a token (and timeout) of its own.
    const [[, move] = []] = answers('sendTaskSuccess');
    expect(move).toMatchObject({
      action: 'run',
      stageIndex: 1,
      steps: [{ ordinal: 1, backstopSeconds: OWN_BACKSTOP }],
    });
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Pending']);
  });

  it('never hands the token to a stage of several steps: the Map runs those', async () => {
    // Arrange: one step, then a stage of two; the run of one-step stages is the first alone.
    const { executionId, decided } = await startRun(['Sequential', 'Sequential', 'ParallelWithPrevious']);

    // Act
    await complete((await claimOne(fresh)).taskId);

    // Assert
    expect(decided).toBe(OWN_BACKSTOP);
    const [[, move] = []] = answers('sendTaskSuccess');
    expect(move).toMatchObject({ action: 'run', stageIndex: 1, steps: [{ ordinal: 1 }, { ordinal: 2 }] });
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Pending', 'Pending']);
  });

  it("leaves a next step's newer token alone when the report that handed the token on is retried", async () => {
    // Arrange: step 0 handed the token on to step 1; then a newer RunSingleStep (after Advance)
    // queued step 1 again with a token of its own.
    const { executionId, decided } = await startRun(['Sequential', 'Sequential', 'Sequential']);
    const firstTask = await claimOne(fresh);
    await complete(firstTask.taskId);
    await fresh.services.orchestrator.enqueueStep(executionId, 1, 'token-newer', {
      decidesNext: true,
      backstopSeconds: decided,
    });

    // Act
    expect(await complete(firstTask.taskId)).toEqual({ accepted: true, stepStatus: 'Completed' });

    // Assert: the spent token is not put back on step 1's task, and nothing answered it.
    expect(await taskOf(executionId, 1)).toMatchObject({ taskToken: 'token-newer', status: 'Queued' });
    expect(answers('sendTaskSuccess')).toEqual([]);
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Queued', 'Pending']);
  });

  it('leaves nothing queued or running when a cancel races the completion handing the token on, 20 times over', async () => {
    for (let round = 0; round < 20; round++) {
      // Arrange: step 0 claimed; its completion will decide step 1 and hand it the token.
      const { executionId } = await startRun(['Sequential', 'Sequential', 'Sequential']);
      const task = await claimOne(fresh);

      // Act: the cancel and the completion at once, one of them a little later each round, so that
      // the cancel lands before, during and after the completion's decision and its hand-on.
      const lag = (round % 10) * 3;
      const [cancelAfter, completeAfter] = round < 10 ? [lag, 0] : [0, lag];
      const [, answer] = await Promise.all([
        sleep(cancelAfter).then(() => fresh.services.executions.cancelActive(executionId, operator)),
        sleep(completeAfter).then(() => complete(task.taskId)),
      ]);

      // Assert: cancelled whichever came first; no step is left waiting for a worker or running,
      // and a task that was queued all the same is taken off the queue by the next claim.
      expect(answer.stepStatus).toMatch(/^(Completed|Cancelled)$/);
      const execution = await fresh.services.executions.get(executionId);
      expect(execution.status).toBe('Cancelled');
      for (const step of execution.steps ?? []) expect(step.status).toMatch(/^(Completed|Cancelled)$/);
      const claimed = await fresh.services.workers.claim(
        { workerId: worker.workerId, pools: ['default'], maxTasks: 5, waitSeconds: 0 },
        key,
      );
      expect(claimed).toEqual([]);
      expect((await fresh.stores.tasks.queuedIn('default', 10)).map((task) => task.taskId)).toEqual([]);
    }
  });

  it('answers nothing to a report repeated after its token went on to a running step, even paused', async () => {
    // Arrange: step 0 handed the token on to step 1, which a worker runs; then a pause, and step
    // 0's report again (its first answer was lost).
    const { executionId } = await startRun(['Sequential', 'Sequential', 'Sequential']);
    const firstTask = await claimOne(fresh);
    await complete(firstTask.taskId);
    await claimOne(fresh);
    await fresh.services.executions.pause(executionId);

    // Act
    expect(await complete(firstTask.taskId)).toEqual({ accepted: true, stepStatus: 'Completed' });

    // Assert: the token still awaits step 1 (a `wait` would have spent it under a running step).
    expect(answers('sendTaskSuccess')).toEqual([]);
    expect(await taskOf(executionId, 1)).toMatchObject({ taskToken: TOKEN, status: 'Claimed' });
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Processing', 'Pending']);
  });

  it('does not hand on a token no longer awaited, nor answer it', async () => {
    // Arrange: step 0 claimed; meanwhile its token was spent (answered by a racing report, or
    // replaced by a retried enqueueStep).
    const { executionId } = await startRun(['Sequential', 'Sequential']);
    const task = await claimOne(fresh);
    fresh.workflow.spentTokens.add(TOKEN);

    // Act
    expect(await complete(task.taskId)).toEqual({ accepted: true, stepStatus: 'Completed' });

    // Assert: step 1 is not queued under a dead token; whoever holds the live one decides.
    expect(answers('sendTaskSuccess')).toEqual([]);
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Pending']);
  });

  it('fails the step the token was handed on to when the state machine gives up on the token', async () => {
    // Arrange: step 0 handed the token on to step 1, which a worker claimed, then went silent.
    const { executionId } = await startRun(['Sequential', 'Sequential', 'Sequential']);
    await complete((await claimOne(fresh)).taskId);
    await claimOne(fresh);

    // Act: SingleStepFailed names the token's first step, as its state's input does.
    await fresh.services.orchestrator.stepFailed(executionId, 0, { Error: 'States.HeartbeatTimeout' }, true);

    // Assert: step 1 failed with the reason, its task abandoned so its worker stops; step 0 kept its outcome.
    expect(await stepStatuses(executionId)).toEqual(['Completed', 'Failed', 'Pending']);
    const execution = await fresh.services.executions.get(executionId);
    expect(execution.steps?.[1]?.errorMessage).toMatch(/Lost heartbeat/);
    expect(await taskOf(executionId, 1)).toMatchObject({ status: 'Abandoned' });
  });
});
