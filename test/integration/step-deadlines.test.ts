import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../core/model.js';
import type { Services } from '../../core/services/index.js';
import { BACKSTOP_MARGIN_SECONDS } from '../../core/services/orchestrator.js';
import type { RecordingWorkflow } from '../helpers/recording-workflow.js';
import type { TestClock } from './fixtures.js';
import { runOfNewSchedule, servicesOnFreshTables } from './services.js';

/**
 * A step's timeoutSeconds counts from its claim, and the wait for a worker has a limit of its own
 * (`queueTimeoutSeconds`). The service keeps both deadlines, from the claimant's heartbeats and the
 * reconciler's runs; the state machine's timeout on RunStep is only the backstop past both.
 */

const key: Principal = { type: 'ApiKey', id: 'key-a', name: 'worker key', roles: ['Worker'] };
const caller = { principal: key, workerId: 'host-a' };
const TIMEOUT_SECONDS = 60;
const QUEUE_TIMEOUT_SECONDS = 600;
const settings = { waitSeconds: 5, heartbeatTimeoutSeconds: 120, queueTimeoutSeconds: QUEUE_TIMEOUT_SECONDS };

describe('step deadlines', () => {
  let services: Services;
  let workflow: RecordingWorkflow;
  let clock: TestClock;

  beforeEach(async () => {
    // Today: the fixtures' default day is past the tasks' expiry, and DynamoDB Local's TTL would remove them.
    ({ clock, workflow, services } = await servicesOnFreshTables(new Date(), { settings }));
  });

  let made = 0;
  /** Runs a one-step schedule up to its step waiting for a worker; answers the ids and the run move. */
  async function enqueued() {
    made += 1;
    const executionId = await runOfNewSchedule(services, `Deadlines ${made}`, [
      { name: 'Only', stepType: 'Executable', executablePath: '/bin/true', timeoutSeconds: TIMEOUT_SECONDS },
    ]);
    const move = await services.orchestrator.advance(executionId);
    const taskToken = `token-${made}`;
    await services.orchestrator.enqueueStep(executionId, 0, taskToken);
    return { executionId, taskToken, move };
  }

  const claim = async () => {
    const [task] = await services.workers.claim(
      { workerId: caller.workerId, pools: ['default'], maxTasks: 1, waitSeconds: 0 },
      key,
    );
    if (!task) throw new Error('claimed nothing');
    return task;
  };
  const stepOf = async (executionId: string) => {
    const step = (await services.executions.get(executionId)).steps?.[0];
    if (!step) throw new Error('no step');
    return step as unknown as { status: string; errorMessage: string | null };
  };
  const seconds = (n: number) => clock.advance(n * 1000);

  it('gives RunStep a backstop past the queue limit and the timeout together', async () => {
    const { move } = await enqueued();

    expect(move).toEqual({
      action: 'run',
      stageIndex: 0,
      steps: [
        {
          ordinal: 0,
          pool: 'default',
          backstopSeconds: QUEUE_TIMEOUT_SECONDS + TIMEOUT_SECONDS + BACKSTOP_MARGIN_SECONDS,
          heartbeatSeconds: 120,
        },
      ],
    });
  });

  it('counts timeoutSeconds from the claim: a step that waited longer than it still runs', async () => {
    // Arrange: it waits for a worker for longer than its timeout, then runs within it.
    const { taskToken } = await enqueued();
    seconds(TIMEOUT_SECONDS * 5);
    expect((await services.reconciler.run()).neverClaimed).toEqual([]);
    const task = await claim();
    seconds(TIMEOUT_SECONDS - 1);

    // Act
    const beat = await services.workers.heartbeat(task.taskId, caller, 'working');
    const done = await services.workers.complete(task.taskId, caller, { activityStatus: 'Complete' });

    // Assert
    expect(beat).toEqual({ cancellationRequested: false });
    expect(done).toEqual({ accepted: true, stepStatus: 'Completed' });
    expect(workflow.calledWith('sendTaskSuccess')).toEqual([[taskToken, { activityStatus: 'Complete' }]]);
  });

  it('times a claimed step out on the first heartbeat past claim + timeoutSeconds, and stops its worker', async () => {
    // Arrange
    const { executionId, taskToken } = await enqueued();
    seconds(30);
    const task = await claim();
    seconds(TIMEOUT_SECONDS + 1);

    // Act
    const beat = await services.workers.heartbeat(task.taskId, caller, 'working');
    const again = await services.workers.heartbeat(task.taskId, caller, 'still working');
    const late = await services.workers.complete(task.taskId, caller, { activityStatus: 'Complete' });

    // Assert
    expect(beat).toEqual({ cancellationRequested: true });
    expect(again).toEqual({ cancellationRequested: true });
    expect(late.accepted).toBe(false);
    expect(await stepOf(executionId)).toMatchObject({
      status: 'Failed',
      errorMessage: `Timed out: the step did not finish within its timeout of ${TIMEOUT_SECONDS} s; its worker was told to stop.`,
    });
    // The state machine goes on at once (Advance reads the failure) and hears no heartbeat for it.
    expect(workflow.calledWith('sendTaskSuccess')).toEqual([[taskToken, { timedOut: true }]]);
    expect(workflow.calledWith('sendTaskHeartbeat')).toEqual([]);
  });

  it('fails a step no worker claims within the queue limit, saying so, instead of heartbeating it', async () => {
    // Arrange
    const waiting = await enqueued();
    seconds(QUEUE_TIMEOUT_SECONDS - 100);
    const younger = await enqueued();
    seconds(100);

    // Act
    const report = await services.reconciler.run();
    const claimed = await services.workers.claim(
      { workerId: caller.workerId, pools: ['default'], maxTasks: 2, waitSeconds: 0 },
      key,
    );

    // Assert
    const task = (await services.executions.get(waiting.executionId)).steps?.[0]?.taskId;
    expect(report.neverClaimed).toEqual([task]);
    expect(await stepOf(waiting.executionId)).toMatchObject({
      status: 'Failed',
      errorMessage: `Never claimed: no worker of pool 'default' claimed the step within the queue limit of ${QUEUE_TIMEOUT_SECONDS} s.`,
    });
    expect(workflow.calledWith('sendTaskSuccess')).toEqual([[waiting.taskToken, { timedOut: true }]]);
    expect(workflow.calledWith('sendTaskHeartbeat')).toEqual([[younger.taskToken]]);
    // Off the queue for good; the younger one is still there for a worker.
    expect(claimed.map((t) => t.executionId)).toEqual([younger.executionId]);
  });
});
