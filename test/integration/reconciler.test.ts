import { beforeEach, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../core/services/index.js';
import { freshTables } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { MINUTE, operator, scheduleInput, TestClock } from './fixtures.js';
import { runOfNewSchedule, servicesOnFreshTables } from './services.js';

describe('Reconciler', () => {
  let services: Services;
  let workflow: RecordingWorkflow;
  let clock: TestClock;

  beforeEach(async () => {
    ({ clock, workflow, services } = await servicesOnFreshTables('2026-03-01T09:00:00.000Z'));
  });

  const freshTablesArgs = async () => {
    const { client, tables } = await freshTables();
    return [client, tables, { clock, workflow: new RecordingWorkflow() }] as const;
  };

  let made = 0;
  async function queued() {
    made += 1;
    return runOfNewSchedule(services, `Reconciled ${made}`);
  }

  it('accepts a run whose state machine did not start, and starts it on the next round', async () => {
    // Arrange
    workflow.startError = new Error('Step Functions unreachable');
    const executionId = await queued();
    workflow.startError = undefined;
    clock.advance(MINUTE);

    // Act
    const report = await services.reconciler.run();

    // Assert
    expect(report.restarted).toEqual([executionId]);
    expect(workflow.calledWith('start')).toEqual([[executionId], [executionId]]);
    expect((await services.executions.get(executionId)).status).toBe('Queued');
  });

  it('reports how many executions are active and how long the oldest unclaimed task has waited', async () => {
    // Arrange: two executions; the first one's first stage is queued for a worker.
    const first = await queued();
    await queued();
    await services.orchestrator.advance(first);
    await services.orchestrator.enqueueStep(first, 0, 'token-a');
    clock.advance(3 * MINUTE);

    // Act
    const report = await services.reconciler.run();
    const idle = createServices(...(await freshTablesArgs()));

    // Assert
    expect(report.checked).toBe(2);
    expect(report.oldestUnclaimedTaskAgeSeconds).toBe(180);
    expect((await idle.reconciler.run()).oldestUnclaimedTaskAgeSeconds).toBe(0);
  });

  it('leaves a young execution alone: it may still be starting', async () => {
    workflow.startError = new Error('not yet');
    await queued();
    workflow.startError = undefined;

    const report = await services.reconciler.run();

    expect(report.restarted).toEqual([]);
    expect(workflow.calledWith('describe')).toEqual([]);
  });

  it('fails an execution whose state machine cannot be started', async () => {
    workflow.startError = new Error('AccessDenied: states:StartExecution');
    const executionId = await queued();
    clock.advance(MINUTE);

    const report = await services.reconciler.run();

    expect(report.failed).toEqual([executionId]);
    const execution = await services.executions.get(executionId);
    expect(execution.status).toBe('Failed');
    expect(execution.errorMessage).toContain('AccessDenied: states:StartExecution');
    expect(execution.steps.every((step) => step.status === 'Cancelled')).toBe(true);
  });

  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'])(
    'fails an execution whose state machine ended %s without finishing the record',
    async (status) => {
      const executionId = await queued();
      workflow.runs.set(executionId, { status, error: 'States.Runtime', cause: 'boom' });
      clock.advance(MINUTE);

      const report = await services.reconciler.run();

      expect(report.failed).toEqual([executionId]);
      const execution = await services.executions.get(executionId);
      expect(execution.status).toBe('Failed');
      expect(execution.errorMessage).toContain(`StateMachine${status}`);
      expect(execution.errorMessage).toContain('States.Runtime: boom');
      expect(execution.completedAt).not.toBeNull();
    },
  );

  const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

  it('goes on past an execution whose DescribeExecution fails, and reports it', async () => {
    // Arrange: one throttled, one whose state machine ended early, one whose state machine never started.
    const stuck = await queued();
    const ended = await queued();
    const unstarted = await queued();
    workflow.describeErrors.set(stuck, throttled());
    workflow.runs.set(ended, { status: 'FAILED', error: 'States.Runtime', cause: 'boom' });
    workflow.runs.delete(unstarted);
    clock.advance(MINUTE);

    // Act
    const report = await services.reconciler.run();

    // Assert
    expect(report).toMatchObject({ checked: 3, failed: [ended], restarted: [unstarted] });
    expect(report.failures).toEqual([
      { subject: 'execution', id: stuck, error: 'ThrottlingException: Rate exceeded' },
    ]);
    expect((await services.executions.get(ended)).status).toBe('Failed');
    expect((await services.executions.get(stuck)).status).toBe('Queued');
  });

  it('heartbeats the unclaimed tasks even when every DescribeExecution fails', async () => {
    // Arrange: two executions, the first one's first step waiting for a worker.
    const waiting = await queued();
    const other = await queued();
    await services.orchestrator.advance(waiting);
    await services.orchestrator.enqueueStep(waiting, 0, 'token-waiting');
    for (const id of [waiting, other]) workflow.describeErrors.set(id, throttled());
    clock.advance(MINUTE);

    // Act
    const report = await services.reconciler.run();

    // Assert
    expect(workflow.calledWith('sendTaskHeartbeat')).toEqual([['token-waiting']]);
    expect(report).toMatchObject({ heartbeated: 1, oldestUnclaimedTaskAgeSeconds: 60 });
    expect(report.failures.map((failure) => failure.id).sort()).toEqual([waiting, other].sort());
  });

  it('wakes a parked state machine whose wake-up was lost, once, and never one that must still wait', async () => {
    // Arrange: both started, paused at their first stage and parked there.
    const [lost, paused] = [await queued(), await queued()];
    for (const [id, token] of [
      [lost, 'park-lost'],
      [paused, 'park-paused'],
    ] as const) {
      await services.orchestrator.advance(id);
      await services.executions.pause(id);
      expect(await services.orchestrator.advance(id)).toMatchObject({ action: 'wait' });
      await services.orchestrator.park(id, token);
    }
    // The resume is written, but its wake-up fails.
    workflow.taskSuccessError = new Error('ThrottlingException');
    await expect(services.executions.resume(lost)).rejects.toThrow('ThrottlingException');
    workflow.taskSuccessError = undefined;
    expect((await services.executions.get(lost)).status).toBe('InProgress');
    clock.advance(MINUTE);
    const sent = () => workflow.calledWith('sendTaskSuccess').slice(1);

    // Act
    const first = await services.reconciler.run();
    const second = await services.reconciler.run();

    // Assert
    expect(first.woken).toEqual([lost]);
    expect(second.woken).toEqual([]);
    expect(sent()).toEqual([['park-lost', { woken: true }]]);
  });

  it('leaves running state machines and finished executions alone', async () => {
    const running = await queued();
    const cancelled = await queued();
    await services.executions.cancelActive(cancelled, operator);
    clock.advance(MINUTE);

    const report = await services.reconciler.run();

    expect(report).toMatchObject({ checked: 1, restarted: [], failed: [] });
    expect((await services.executions.get(running)).status).toBe('Queued');
  });
});

describe('Orchestrator.crash', () => {
  it('fails an active execution once, with the error, and never touches a finished one', async () => {
    const { client, tables } = await freshTables();
    const services = createServices(client, tables, {
      clock: new TestClock(),
      workflow: new RecordingWorkflow(),
    });
    const schedule = await services.schedules.create(scheduleInput({ overlapPolicy: 'AllowAll' }));
    const active = (await services.schedules.run(schedule.id, operator)).executionId;
    const done = (await services.schedules.run(schedule.id, operator)).executionId;
    await services.executions.cancelActive(done, operator);

    await services.orchestrator.crash(active, { Error: 'Lambda.Unknown', Cause: 'out of memory' });
    await services.orchestrator.crash(done, { Error: 'Lambda.Unknown', Cause: 'out of memory' });

    const failed = await services.executions.get(active);
    expect(failed.status).toBe('Failed');
    expect(failed.errorMessage).toBe(
      'The execution stopped on an unexpected error: Lambda.Unknown: out of memory',
    );
    expect((await services.executions.get(done)).status).toBe('Cancelled');
  });
});
