import { beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError, NotFoundError } from '../../core/errors.js';
import type { OverlapPolicy } from '../../core/model.js';
import type { Schedule } from '../../core/schemas/schedule.js';
import type { Services } from '../../core/services/index.js';
import { type freshTables, recordRequests, transactionsIn } from '../helpers/dynamodb.js';
import type { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { NOT_RUN_STEP } from '../helpers/seed-fields.js';
import { canceller, MINUTE, operator, scheduleInput, type TestClock } from './fixtures.js';
import { beforeFirstPutIn, servicesOnFreshTables } from './services.js';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** The ConflictError a promise rejects with. */
async function conflictOf(promise: Promise<unknown>): Promise<ConflictError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConflictError);
  return error as ConflictError;
}

describe('ScheduleService.run and ExecutionService', () => {
  let clock: TestClock;
  let services: Services;
  let workflow: RecordingWorkflow;
  let db: Awaited<ReturnType<typeof freshTables>>;

  beforeEach(async () => {
    ({ db, clock, workflow, services } = await servicesOnFreshTables());
  });

  const createSchedule = (overrides: Record<string, unknown> = {}) =>
    services.schedules.create(scheduleInput(overrides));
  const withPolicy = (overlapPolicy: OverlapPolicy) => createSchedule({ overlapPolicy });

  describe('run', () => {
    it('queues an execution with its steps Pending, snapshotted from the schedule', async () => {
      // Arrange
      const schedule = await createSchedule();

      // Act
      const result = await services.schedules.run(schedule.id, operator);
      const execution = await services.executions.get(result.executionId);

      // Assert
      expect(result).toEqual({ executionId: execution.id, status: 'Queued', message: 'Execution queued.' });
      expect(execution).toMatchObject({
        scheduleId: schedule.id,
        scheduleName: 'Nightly HR sync',
        status: 'Queued',
        currentStepIndex: 0,
        totalSteps: 3,
        queuedAt: '2026-04-05T06:00:00.000Z',
        startedAt: null,
        completedAt: null,
        initiatedByType: 'ApiKey',
        initiatedById: 'key-ops',
        initiatedByName: 'ops-automation',
        errorMessage: null,
        cancelledById: null,
        cancelledByName: null,
      });
      expect(execution.steps).toEqual(
        schedule.steps.map((step) => ({
          stepId: step.id,
          stepIndex: step.stepIndex,
          name: step.name,
          stepType: step.stepType,
          executionMode: step.executionMode,
          connectedSystemId: step.stepType === 'RunProfile' ? step.connectedSystemId : null,
          continueOnFailure: false,
          timeoutSeconds: 3600,
          workerPool: 'default',
          ...NOT_RUN_STEP,
          output: null,
          progressMessage: null,
          lastHeartbeatAt: null,
          workerId: null,
        })),
      );
      expect(execution.steps.map((step) => [step.stepIndex, step.connectedSystemId])).toEqual([
        [0, 1],
        [0, 2],
        [1, null],
        [2, null],
      ]);
    });

    it('counts stages, not steps, in totalSteps', async () => {
      // Arrange
      const schedule = await createSchedule({
        steps: [
          { name: 'a', stepType: 'PowerShell', scriptPath: 'a.ps1', executionMode: 'ParallelWithPrevious' },
          { name: 'b', stepType: 'PowerShell', scriptPath: 'b.ps1', executionMode: 'ParallelWithPrevious' },
          { name: 'c', stepType: 'PowerShell', scriptPath: 'c.ps1' },
        ],
      });

      // Act
      const { executionId } = await services.schedules.run(schedule.id, operator);
      const execution = await services.executions.get(executionId);

      // Assert
      expect(execution.totalSteps).toBe(2);
      expect(execution.steps.map((step) => step.stepIndex)).toEqual([0, 0, 1]);
    });

    it('records a cron run as NotSet with no initiator id', async () => {
      // Arrange
      const schedule = await createSchedule();

      // Act
      const { executionId } = await services.schedules.run(schedule.id, {
        type: 'NotSet',
        id: null,
        name: null,
      });

      // Assert
      expect(await services.executions.get(executionId)).toMatchObject({
        initiatedByType: 'NotSet',
        initiatedById: null,
        initiatedByName: null,
      });
    });

    it('refuses a schedule without steps with BadRequestError', async () => {
      const schedule = await createSchedule({ steps: [] });

      await expect(services.schedules.run(schedule.id, operator)).rejects.toBeInstanceOf(BadRequestError);
    });

    it('throws NotFoundError for an unknown schedule', async () => {
      await expect(services.schedules.run(UNKNOWN_ID, operator)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('execution snapshots', () => {
    it('keeps the name and steps of the execution when the schedule is edited afterwards', async () => {
      // Arrange
      const schedule = await createSchedule();
      const { executionId } = await services.schedules.run(schedule.id, operator);
      const before = await services.executions.get(executionId);

      // Act
      await services.schedules.replace(
        schedule.id,
        scheduleInput({
          name: 'Renamed',
          steps: [
            { name: 'Only step', stepType: 'Executable', executablePath: '/bin/true', timeoutSeconds: 5 },
          ],
        }),
      );

      // Assert
      expect(await services.executions.get(executionId)).toEqual(before);
      expect(before.scheduleName).toBe('Nightly HR sync');
    });

    it('keeps the execution readable after the schedule is deleted', async () => {
      // Arrange
      const schedule = await createSchedule();
      const { executionId } = await services.schedules.run(schedule.id, operator);
      await services.executions.cancelActive(executionId, canceller);
      const before = await services.executions.get(executionId);

      // Act
      await services.schedules.delete(schedule.id);

      // Assert
      expect(await services.executions.get(executionId)).toEqual(before);
      expect(before.steps).toHaveLength(4);
    });
  });

  describe('overlap policy', () => {
    it('Skip refuses a second run with ConflictError naming the active execution', async () => {
      // Arrange
      const schedule = await withPolicy('Skip');
      const first = await services.schedules.run(schedule.id, operator);

      // Act
      const error = await conflictOf(services.schedules.run(schedule.id, operator));

      // Assert
      expect(error.details).toMatchObject({ activeExecutionId: first.executionId });
      expect(await services.executions.listActive()).toHaveLength(1);
    });

    it('Skip allows a new run once the active one has been cancelled', async () => {
      // Arrange
      const schedule = await withPolicy('Skip');
      const first = await services.schedules.run(schedule.id, operator);
      await services.executions.cancelActive(first.executionId, canceller);

      // Act
      const second = await services.schedules.run(schedule.id, operator);

      // Assert
      expect(second.status).toBe('Queued');
      expect((await services.executions.listActive()).map((e) => e.id)).toEqual([second.executionId]);
    });

    it('AllowAll starts every run', async () => {
      // Arrange
      const schedule = await withPolicy('AllowAll');

      // Act
      const runs = [];
      for (let i = 0; i < 3; i++) {
        runs.push(await services.schedules.run(schedule.id, operator));
        clock.advance(MINUTE);
      }

      // Assert
      expect(runs.map((run) => run.status)).toEqual(['Queued', 'Queued', 'Queued']);
      expect((await services.executions.listActive()).map((e) => e.id)).toEqual(
        runs.map((run) => run.executionId),
      );
    });

    it('BufferOne queues one extra execution, then refuses with ConflictError', async () => {
      // Arrange
      const schedule = await withPolicy('BufferOne');
      const first = await services.schedules.run(schedule.id, operator);
      clock.advance(MINUTE);

      // Act
      const buffered = await services.schedules.run(schedule.id, operator);
      clock.advance(MINUTE);
      const error = await conflictOf(services.schedules.run(schedule.id, operator));

      // Assert
      expect(buffered.status).toBe('Queued');
      expect(buffered.message).toMatch(/behind 1 active/);
      expect(error.details).toMatchObject({ activeExecutionIds: [first.executionId, buffered.executionId] });
      expect(await services.executions.listActive()).toHaveLength(2);
    });

    it('CancelOther cancels the active execution, records who did, and starts the new one', async () => {
      // Arrange
      const schedule = await withPolicy('CancelOther');
      const first = await services.schedules.run(schedule.id, operator);
      clock.advance(MINUTE);

      // Act
      const second = await services.schedules.run(schedule.id, canceller);

      // Assert
      expect(second.message).toContain(first.executionId);
      expect(await services.executions.get(first.executionId)).toMatchObject({
        status: 'Cancelled',
        completedAt: '2026-04-05T06:01:00.000Z',
        cancelledById: 'user-42',
        cancelledByName: 'Ada Operator',
      });
      expect((await services.executions.listActive()).map((e) => e.id)).toEqual([second.executionId]);
    });

    it('Skip lets exactly one of several concurrent runs through', async () => {
      // Arrange
      const schedule = await withPolicy('Skip');

      // Act
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => services.schedules.run(schedule.id, operator)),
      );

      // Assert
      const started = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r) => r.status === 'rejected');
      expect(started).toHaveLength(1);
      for (const r of refused) expect(r.reason).toBeInstanceOf(ConflictError);
      const active = await services.executions.listActive();
      expect(active.map((e) => e.id)).toEqual([started[0]?.value.executionId]);
      expect((await services.executions.list(listAll(schedule))).totalCount).toBe(1);
    });
  });

  describe('concurrent runs', () => {
    const outcomes = (results: PromiseSettledResult<unknown>[]) =>
      results.map((r) =>
        r.status === 'fulfilled' ? 'started' : `${(r.reason as Error).name}: ${(r.reason as Error).message}`,
      );

    it('AllowAll starts every one of eight concurrent runs', async () => {
      // Arrange
      const schedule = await withPolicy('AllowAll');

      // Act
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => services.schedules.run(schedule.id, operator)),
      );

      // Assert
      expect(outcomes(results)).toEqual(Array(8).fill('started'));
      expect(await services.executions.listActive()).toHaveLength(8);
    });

    it('BufferOne lets exactly two of four concurrent runs through', async () => {
      // Arrange
      const schedule = await withPolicy('BufferOne');

      // Act
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => services.schedules.run(schedule.id, operator)),
      );

      // Assert
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
      expect(await services.executions.listActive()).toHaveLength(2);
    });

    it('CancelOther starts both of two concurrent runs, leaving only the last one active', async () => {
      // Arrange
      const schedule = await withPolicy('CancelOther');
      const original = await services.schedules.run(schedule.id, operator);
      // Later than the original, as on a real clock: runs queued in the same millisecond are ordered
      // by id, and the original could then be the one left standing.
      clock.advance(1000);

      // Act
      const results = await Promise.allSettled([
        services.schedules.run(schedule.id, operator),
        services.schedules.run(schedule.id, canceller),
      ]);

      // Assert
      expect(outcomes(results)).toEqual(['started', 'started']);
      expect((await services.executions.get(original.executionId)).status).toBe('Cancelled');
      expect(await services.executions.listActive()).toHaveLength(1);
    });

    /** Runs a new schedule of `overlapPolicy`: the requests the run sent to DynamoDB. */
    async function requestsOfRun(overlapPolicy: OverlapPolicy) {
      const schedule = await withPolicy(overlapPolicy);
      const sent = recordRequests(db.client);
      await services.schedules.run(schedule.id, operator);
      return { schedule, sent };
    }

    it.each(['AllowAll', 'CancelOther'] as const)(
      'records a %s run without its schedule or an unsharded counter in the transaction',
      async (overlapPolicy) => {
        // Act
        const { schedule, sent } = await requestsOfRun(overlapPolicy);

        // Assert: concurrent runs of the schedule share no item in their transactions, so none
        // waits for (or conflicts with) another; the schedule names the run in a write of its own.
        const transactions = transactionsIn(sent);
        expect(transactions).toHaveLength(1);
        const items = transactions[0] ?? [];
        expect(items.map((item) => item.TableName)).not.toContain(db.tables.schedules);
        const counters = items.filter((item) => item.TableName === db.tables.counters);
        expect(counters.map((c) => c.Key?.id)).toEqual([
          expect.stringMatching(/^executions#[0-7]$/),
          expect.stringMatching(new RegExp(`^executions#schedule#${schedule.id}(#[1-7])?$`)),
          expect.stringMatching(/^executions#cell#Queued#ApiKey#[0-7]$/),
          expect.stringMatching(
            new RegExp(`^executions#schedule#${schedule.id}#cell#Queued#ApiKey(#[1-7])?$`),
          ),
        ]);
        const naming = sent.filter(
          (r) => r.command === 'UpdateItemCommand' && r.input.TableName === db.tables.schedules,
        );
        expect(naming.map((r) => r.input.ConditionExpression)).toEqual([
          'listPk = :list AND overlapPolicy IN (:policy0, :policy1)',
        ]);
      },
    );

    it.each(['Skip', 'BufferOne'] as const)(
      'records a %s run in one transaction with its schedule, on condition of its version',
      async (overlapPolicy) => {
        // Act
        const { schedule, sent } = await requestsOfRun(overlapPolicy);

        // Assert
        const [first] = transactionsIn(sent)[0] ?? [];
        expect(first).toMatchObject({
          kind: 'Update',
          TableName: db.tables.schedules,
          Key: { id: schedule.id },
          ConditionExpression: '#version = :version',
        });
      },
    );

    it('withdraws an AllowAll run whose schedule moved to Skip while it was recorded, and decides it again', async () => {
      // Arrange: one run active, then a second whose write races an edit of the policy to Skip.
      const schedule = await withPolicy('AllowAll');
      const first = await services.schedules.run(schedule.id, operator);
      beforeFirstPutIn(db, db.tables.executions, () =>
        services.schedules.replace(schedule.id, scheduleInput({ overlapPolicy: 'Skip' })),
      );

      // Act
      const error = await conflictOf(services.schedules.run(schedule.id, operator));

      // Assert: decided again under Skip, the run is refused for the active first one; the execution
      // recorded under AllowAll was cancelled before the state machine ever saw it.
      expect(error.message).toContain('overlap policy Skip');
      const all = (await services.executions.list(listAll(schedule))).items;
      const withdrawn = all.find((e) => e.id !== first.executionId);
      expect(withdrawn).toMatchObject({
        status: 'Cancelled',
        errorMessage: expect.stringContaining('Withdrawn'),
      });
      expect(workflow.calledWith('start')).toEqual([[first.executionId]]);
      expect((await services.executions.listActive()).map((e) => e.id)).toEqual([first.executionId]);
    });

    it('starts runs of ten different schedules at once, counting each', async () => {
      // Arrange
      const schedules: Schedule[] = [];
      for (let i = 0; i < 10; i++) schedules.push(await createSchedule({ name: `Schedule ${i}` }));

      // Act
      const results = await Promise.allSettled(schedules.map((s) => services.schedules.run(s.id, operator)));

      // Assert
      expect(outcomes(results)).toEqual(Array(10).fill('started'));
      const all = await services.executions.list({ pageSize: 100, sortBy: 'queuedAt', sortDescending: true });
      expect(all.totalCount).toBe(10);
      expect(all.items).toHaveLength(10);
    });

    // AllowAll and CancelOther runs do not bump the version: the delete must still see them.
    it.each(['Skip', 'AllowAll', 'CancelOther'] as const)(
      'either runs or deletes when a %s run races a delete, never both',
      async (overlapPolicy) => {
        for (let round = 0; round < 5; round++) {
          // Arrange
          const schedule = await createSchedule({ name: `Racing ${round}`, overlapPolicy });

          // Act
          const [run, removal] = await Promise.allSettled([
            services.schedules.run(schedule.id, operator),
            services.schedules.delete(schedule.id),
          ]);

          // Assert
          if (run.status === 'fulfilled') {
            expect(removal.status === 'rejected' && removal.reason).toBeInstanceOf(ConflictError);
            expect((await services.schedules.get(schedule.id)).lastExecutionId).toBe(run.value.executionId);
          } else {
            expect(removal.status).toBe('fulfilled');
            expect(run.reason).toBeInstanceOf(NotFoundError);
            // A side-by-side run the delete overtook after it was recorded is withdrawn: cancelled
            // before it was given to the state machine. Nothing of the deleted schedule runs.
            const left = (await services.executions.list(listAll(schedule))).items;
            expect(left.length).toBeLessThanOrEqual(overlapPolicy === 'Skip' ? 0 : 1);
            for (const execution of left) {
              expect(execution.status).toBe('Cancelled');
              expect(workflow.calledWith('start')).not.toContainEqual([execution.id]);
            }
          }
        }
      },
    );
  });

  describe('delete guard', () => {
    it('refuses to delete a schedule with an active execution, and allows it after cancel', async () => {
      // Arrange
      const schedule = await createSchedule();
      const { executionId } = await services.schedules.run(schedule.id, operator);

      // Act
      const error = await conflictOf(services.schedules.delete(schedule.id));
      await services.executions.cancelActive(executionId, canceller);
      await services.schedules.delete(schedule.id);

      // Assert
      expect(error.details).toEqual({ activeExecutionIds: [executionId] });
      await expect(services.schedules.get(schedule.id)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('cancelActive', () => {
    it('cancels the execution and every unfinished step at once, recording who cancelled', async () => {
      // Arrange
      const schedule = await createSchedule();
      const { executionId } = await services.schedules.run(schedule.id, operator);
      clock.advance(2 * MINUTE);

      // Act
      const cancelled = await services.executions.cancelActive(executionId, canceller);
      const read = await services.executions.get(executionId);

      // Assert
      expect(cancelled).toMatchObject({
        id: executionId,
        status: 'Cancelled',
        completedAt: '2026-04-05T06:02:00.000Z',
        cancelledById: 'user-42',
        cancelledByName: 'Ada Operator',
        initiatedById: 'key-ops',
      });
      const { steps, ...execution } = read;
      expect(execution).toEqual(cancelled);
      expect(steps.map((step) => [step.status, step.completedAt])).toEqual(
        Array(4).fill(['Cancelled', '2026-04-05T06:02:00.000Z']),
      );
      expect(await services.executions.listActive()).toEqual([]);
      expect((await services.schedules.get(schedule.id)).lastExecutionStatus).toBe('Cancelled');
    });

    it('refuses a second cancel with ConflictError and leaves the first one as it was', async () => {
      // Arrange
      const schedule = await createSchedule();
      const { executionId } = await services.schedules.run(schedule.id, operator);
      const first = await services.executions.cancelActive(executionId, canceller);
      clock.advance(MINUTE);

      // Act
      const error = await conflictOf(services.executions.cancelActive(executionId, operator));

      // Assert
      expect(error.details).toEqual({ status: 'Cancelled' });
      const { steps: _steps, ...execution } = await services.executions.get(executionId);
      expect(execution).toEqual(first);
    });

    it('throws NotFoundError for an unknown execution', async () => {
      await expect(services.executions.cancelActive(UNKNOWN_ID, canceller)).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });
  });

  it('get throws NotFoundError for an unknown execution', async () => {
    await expect(services.executions.get(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('listActive returns Queued executions of every schedule, oldest first, without finished ones', async () => {
    // Arrange
    const first = await withPolicy('AllowAll');
    const second = await createSchedule({ name: 'Second', overlapPolicy: 'AllowAll' });
    const queued: string[] = [];
    for (const schedule of [second, first, second, first, second]) {
      queued.push((await services.schedules.run(schedule.id, operator)).executionId);
      clock.advance(MINUTE);
    }
    await services.executions.cancelActive(queued[1] as string, canceller);

    // Act
    const active = await services.executions.listActive();

    // Assert
    expect(active.map((e) => e.id)).toEqual([queued[0], queued[2], queued[3], queued[4]]);
    expect(active.map((e) => e.queuedAt)).toEqual([
      '2026-04-05T06:00:00.000Z',
      '2026-04-05T06:02:00.000Z',
      '2026-04-05T06:03:00.000Z',
      '2026-04-05T06:04:00.000Z',
    ]);
    expect(active.every((e) => e.status === 'Queued')).toBe(true);
    expect(active[0]).not.toHaveProperty('steps');
  });
});

const listAll = (schedule: Schedule) => ({
  scheduleId: schedule.id,
  pageSize: 100,
  sortBy: 'queuedAt' as const,
  sortDescending: true,
});
