import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, IdempotencyKeyReusedError, ValidationError } from '../../core/errors.js';
import { ExecutionStatus, type OverlapPolicy, StepStatus } from '../../core/model.js';
import type { Execution, ExecutionStep } from '../../core/schemas/execution.js';
import type { Schedule } from '../../core/schemas/schedule.js';
import type { Services } from '../../core/services/index.js';
import type { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { NOT_RUN_STEP } from '../helpers/seed-fields.js';
import { canceller, MINUTE, operator, scheduleInput, type TestClock } from './fixtures.js';
import { executionsOf, servicesOnFreshTables, type TestStores } from './services.js';

/** What a promise rejects with. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
}

/**
 * The schedule of `scheduleInput`: stage 0 is ordinals 0 and 1 (Import HR, Import AD in parallel),
 * stage 1 is ordinal 2 (Tidy), stage 2 is ordinal 3 (Report).
 */
describe('ScheduleService.retry', () => {
  let clock: TestClock;
  let services: Services;
  let workflow: RecordingWorkflow;
  let store: TestStores['executions'];

  beforeEach(async () => {
    ({
      clock,
      workflow,
      services,
      stores: { executions: store },
    } = await servicesOnFreshTables());
  });

  const current = async (id: string) => (await store.get(id)) as Execution;
  const withPolicy = (overlapPolicy: OverlapPolicy = 'AllowAll') =>
    services.schedules.create(scheduleInput({ overlapPolicy }));

  /** Ends step `ordinal` of a running execution as a worker's report would. */
  async function endStep(executionId: string, ordinal: number, status: StepStatus, n: number) {
    await store.updateStep(executionId, ordinal, [StepStatus.Pending], {
      status,
      taskId: `00000000-0000-4000-8000-00000000000${n}`,
      startedAt: `2026-04-05T06:0${n}:00.000Z`,
      completedAt: `2026-04-05T06:0${n}:30.000Z`,
      activityId: `activity-${ordinal}`,
      activityStatus: status === StepStatus.Failed ? 'FailedWithError' : 'Complete',
      errorMessage: status === StepStatus.Failed ? 'Import failed: timeout talking to LDAP' : null,
    });
  }

  /** Runs the schedule and ends the run: stage 0 Completed, stage 1 (Tidy) Failed, stage 2 Cancelled with it. */
  async function failedRun(schedule: Schedule): Promise<string> {
    const { executionId } = await services.schedules.run(schedule.id, operator);
    const queued = await current(executionId);
    const started = await store.transition(queued, ExecutionStatus.Queued, {
      status: ExecutionStatus.InProgress,
      startedAt: clock.now().toISOString(),
    });
    await endStep(executionId, 0, StepStatus.Completed, 1);
    await endStep(executionId, 1, StepStatus.CompletedWithWarning, 2);
    await endStep(executionId, 2, StepStatus.Failed, 3);
    await store.transition(started as Execution, ExecutionStatus.InProgress, {
      status: ExecutionStatus.Failed,
      completedAt: clock.advance(MINUTE).toISOString(),
      errorMessage: "Stage 1 failed: 'Tidy' Failed.",
    });
    clock.advance(MINUTE);
    return executionId;
  }

  /** Retries as the canceller, checks the answer is the queued one and reads the retry back. */
  async function retried(originalId: string) {
    const result = await services.schedules.retry(originalId, canceller);
    expect(result).toEqual({
      executionId: expect.any(String),
      status: 'Queued',
      message: 'Execution queued.',
    });
    return services.executions.get(result.executionId);
  }

  it('starts at the failed stage, earlier steps carried over as they ended, and links both ways', async () => {
    // Arrange
    const schedule = await withPolicy();
    const originalId = await failedRun(schedule);
    const before = await services.executions.get(originalId);
    // The schedule changes after the run: the retry runs the original's snapshot, not this.
    await services.schedules.replace(schedule.id, scheduleInput({ name: 'Renamed', steps: [] }));

    // Act
    const retry = await retried(originalId);

    // Assert
    expect(retry).toMatchObject({
      scheduleId: schedule.id,
      scheduleName: 'Nightly HR sync',
      status: 'Queued',
      currentStepIndex: 1,
      totalSteps: 3,
      initiatedByType: 'User',
      initiatedById: 'user-42',
      initiatedByName: 'Ada Operator',
      retryOfExecutionId: originalId,
      retriedByExecutionId: null,
    });
    const { taskId: _t0, ...first } = before.steps[0] as ExecutionStep;
    const { taskId: _t1, ...second } = before.steps[1] as ExecutionStep;
    expect(retry.steps[0]).toEqual({ ...first, taskId: null, carriedOver: true });
    expect(retry.steps[1]).toEqual({ ...second, taskId: null, carriedOver: true });
    expect(retry.steps[0]).toMatchObject({
      status: 'Completed',
      startedAt: '2026-04-05T06:01:00.000Z',
      completedAt: '2026-04-05T06:01:30.000Z',
      activityId: 'activity-0',
      activityStatus: 'Complete',
    });
    expect(retry.steps.slice(2)).toEqual(
      before.steps.slice(2).map((step) => ({
        ...step,
        ...NOT_RUN_STEP,
        carriedOver: false,
      })),
    );
    expect((await services.executions.get(originalId)).retriedByExecutionId).toBe(retry.id);
    expect(workflow.calledWith('start').at(-1)).toEqual([retry.id]);
  });

  it('is handed to the state machine at the first stage it runs: no carried-over step is run', async () => {
    // Arrange
    const originalId = await failedRun(await withPolicy());
    const { executionId } = await services.schedules.retry(originalId, canceller);

    // Act
    const move = await services.orchestrator.advance(executionId);

    // Assert
    expect(move).toMatchObject({ action: 'run', stageIndex: 1, steps: [{ ordinal: 2 }] });
  });

  it('retries a Cancelled execution from the stage it was cancelled in', async () => {
    // Arrange
    const schedule = await withPolicy();
    const { executionId: originalId } = await services.schedules.run(schedule.id, operator);
    const queued = await current(originalId);
    await store.transition(queued, ExecutionStatus.Queued, { status: ExecutionStatus.InProgress });
    await endStep(originalId, 0, StepStatus.Completed, 1);
    await endStep(originalId, 1, StepStatus.Completed, 2);
    await services.executions.cancelActive(originalId, canceller);

    // Act
    const { executionId } = await services.schedules.retry(originalId, operator);

    // Assert
    const retry = await services.executions.get(executionId);
    expect(retry.currentStepIndex).toBe(1);
    expect(retry.steps.map((s) => [s.status, s.carriedOver])).toEqual([
      ['Completed', true],
      ['Completed', true],
      ['Pending', false],
      ['Pending', false],
    ]);
  });

  it.each([
    ['Completed', ExecutionStatus.Completed],
    ['InProgress', ExecutionStatus.InProgress],
    ['Queued', ExecutionStatus.Queued],
  ])('refuses (409) a %s execution and creates nothing', async (_label, status) => {
    // Arrange
    const schedule = await withPolicy();
    const { executionId } = await services.schedules.run(schedule.id, operator);
    let execution = await current(executionId);
    if (status !== ExecutionStatus.Queued) {
      execution = (await store.transition(execution, ExecutionStatus.Queued, {
        status: ExecutionStatus.InProgress,
      })) as Execution;
    }
    if (status === ExecutionStatus.Completed) {
      await store.transition(execution, ExecutionStatus.InProgress, {
        status: ExecutionStatus.Completed,
        completedAt: clock.now().toISOString(),
      });
    }

    // Act
    const error = await rejectionOf(services.schedules.retry(executionId, canceller));

    // Assert
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toBe(
      `Execution '${executionId}' is ${status}: only a Failed or Cancelled execution can be retried.`,
    );
    expect(await executionsOf(services, schedule)).toHaveLength(1);
    expect((await store.get(executionId))?.retriedByExecutionId).toBeNull();
  });

  describe('fromStepIndex', () => {
    it('re-runs from an earlier stage than the default when asked: nothing is carried over from 0', async () => {
      // Arrange
      const originalId = await failedRun(await withPolicy());

      // Act
      const { executionId } = await services.schedules.retry(originalId, canceller, 0);

      // Assert
      const retry = await services.executions.get(executionId);
      expect(retry.currentStepIndex).toBe(0);
      expect(retry.steps.map((s) => [s.status, s.carriedOver])).toEqual([
        ['Pending', false],
        ['Pending', false],
        ['Pending', false],
        ['Pending', false],
      ]);
      expect(await services.orchestrator.advance(executionId)).toMatchObject({
        action: 'run',
        stageIndex: 0,
        steps: [{ ordinal: 0 }, { ordinal: 1 }],
      });
    });

    it('starts past the failed stage when asked: the failed step is carried over and does not fail the retry', async () => {
      // Arrange
      const originalId = await failedRun(await withPolicy());

      // Act
      const { executionId } = await services.schedules.retry(originalId, canceller, 2);

      // Assert
      const retry = await services.executions.get(executionId);
      expect(retry.steps.map((s) => [s.status, s.carriedOver])).toEqual([
        ['Completed', true],
        ['Completed with Warning', true],
        ['Failed', true],
        ['Pending', false],
      ]);
      expect(await services.orchestrator.advance(executionId)).toMatchObject({
        action: 'run',
        stageIndex: 2,
        steps: [{ ordinal: 3 }],
      });
    });

    it.each([3, 99])(
      'refuses (400, naming fromStepIndex) stage %i, which the snapshot does not have',
      async (from) => {
        // Arrange
        const schedule = await withPolicy();
        const originalId = await failedRun(schedule);

        // Act
        const error = await rejectionOf(services.schedules.retry(originalId, canceller, from));

        // Assert
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).validationErrors).toEqual({
          fromStepIndex: ['Must be a stage of the execution: 0 to 2'],
        });
        expect(await executionsOf(services, schedule)).toHaveLength(1);
      },
    );
  });

  it('obeys the overlap policy as a manual run: Skip refuses (409) while another run is active', async () => {
    // Arrange
    const schedule = await withPolicy('Skip');
    const originalId = await failedRun(schedule);
    const { executionId: activeId } = await services.schedules.run(schedule.id, operator);

    // Act
    const error = await rejectionOf(services.schedules.retry(originalId, canceller));

    // Assert
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).details).toMatchObject({ activeExecutionId: activeId });
    expect(await executionsOf(services, schedule)).toHaveLength(2);
    expect((await store.get(originalId))?.retriedByExecutionId).toBeNull();
  });

  it('replays the first retry for the same Idempotency-Key; another key retries again, the original naming the latest', async () => {
    // Arrange
    const schedule = await withPolicy();
    const originalId = await failedRun(schedule);
    const first = await services.schedules.retry(originalId, canceller, undefined, 'retry-1');

    // Act
    const again = await services.schedules.retry(originalId, canceller, undefined, 'retry-1');
    const other = await services.schedules.retry(originalId, canceller, undefined, 'retry-2');

    // Assert
    expect(again).toEqual({ ...first, replayed: true });
    expect(other.executionId).not.toBe(first.executionId);
    expect(other.replayed).toBeUndefined();
    expect(await executionsOf(services, schedule)).toHaveLength(3);
    expect((await store.get(originalId))?.retriedByExecutionId).toBe(other.executionId);
    expect(workflow.calledWith('start').slice(-2)).toEqual([[first.executionId], [other.executionId]]);
  });

  it('refuses (409) the key sent again with another fromStepIndex, starting nothing; the same one replays', async () => {
    // Arrange
    const schedule = await withPolicy();
    const originalId = await failedRun(schedule);
    const first = await services.schedules.retry(originalId, canceller, 0, 'retry-k');

    // Act
    const fromAnotherStage = await rejectionOf(services.schedules.retry(originalId, canceller, 2, 'retry-k'));
    const byDefault = await rejectionOf(
      services.schedules.retry(originalId, canceller, undefined, 'retry-k'),
    );
    const again = await services.schedules.retry(originalId, canceller, 0, 'retry-k');

    // Assert
    for (const error of [fromAnotherStage, byDefault]) {
      expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
      expect((error as IdempotencyKeyReusedError).statusCode).toBe(409);
      expect((error as IdempotencyKeyReusedError).code).toBe('CONFLICT');
      expect((error as IdempotencyKeyReusedError).details).toEqual({ executionId: first.executionId });
    }
    expect(again).toEqual({ ...first, replayed: true });
    expect(await executionsOf(services, schedule)).toHaveLength(2);
    expect((await store.get(originalId))?.retriedByExecutionId).toBe(first.executionId);
    expect(workflow.calledWith('start').slice(-1)).toEqual([[first.executionId]]);
  });

  it('makes one execution of two concurrent same-key retries from different stages; the other is refused', async () => {
    // Arrange
    const schedule = await withPolicy();
    const originalId = await failedRun(schedule);

    // Act
    const results = await Promise.allSettled([
      services.schedules.retry(originalId, canceller, 0, 'race'),
      services.schedules.retry(originalId, canceller, 2, 'race'),
    ]);

    // Assert: the loser read the winner's claim (written with its execution) and saw another request.
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(won).toHaveLength(1);
    expect(won[0]?.replayed).toBeUndefined();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await executionsOf(services, schedule)).toHaveLength(2);
  });

  it('does not share keys with runs: a run key used again on a retry is another key', async () => {
    // Arrange
    const schedule = await withPolicy();
    const originalId = await failedRun(schedule);
    const run = await services.schedules.run(schedule.id, canceller, 'shared');

    // Act
    const retry = await services.schedules.retry(originalId, canceller, undefined, 'shared');

    // Assert
    expect(retry.replayed).toBeUndefined();
    expect(retry.executionId).not.toBe(run.executionId);
  });

  it.each(['AllowAll', 'Skip'] as const)(
    'retries after the %s schedule was deleted: the snapshot runs, named on no schedule and not withdrawn',
    async (policy) => {
      // Arrange
      const schedule = await withPolicy(policy);
      const originalId = await failedRun(schedule);
      await services.schedules.delete(schedule.id);

      // Act
      const retry = await retried(originalId);

      // Assert
      expect(retry).toMatchObject({
        scheduleId: schedule.id,
        scheduleName: 'Nightly HR sync',
        status: 'Queued',
        overlapPolicy: policy,
        retryOfExecutionId: originalId,
      });
      expect(retry.steps.map((s) => s.carriedOver)).toEqual([true, true, false, false]);
      expect((await store.get(originalId))?.retriedByExecutionId).toBe(retry.id);
      expect(workflow.calledWith('start').at(-1)).toEqual([retry.id]);
    },
  );

  it('applies the original policy to a deleted schedule: Skip refuses while another retry of it is active', async () => {
    // Arrange
    const schedule = await withPolicy('Skip');
    const originalId = await failedRun(schedule);
    await services.schedules.delete(schedule.id);
    const { executionId: activeId } = await services.schedules.retry(originalId, canceller);

    // Act
    const error = await rejectionOf(services.schedules.retry(originalId, canceller));

    // Assert
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).details).toMatchObject({ activeExecutionId: activeId });
  });
});
