import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../core/errors.js';
import type { ExecutionStatus, OverlapPolicy, StepStatus } from '../../core/model.js';
import type { Execution } from '../../core/schemas/execution.js';
import { composeServices, type Services } from '../../core/services/index.js';
import { FireOutcome } from '../../core/services/schedules.js';
import { type MemoryStores, memoryStores } from '../helpers/fakes/index.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { canceller, MINUTE, operator, scheduleInput, TestClock } from '../integration/fixtures.js';

/**
 * The decisions of the domain (Advance, step failures, cancel, pause/resume, overlap, cron fires)
 * over the in-memory stores, which test/contract holds to the DynamoDB adapters' semantics: each
 * case is a table row, and the whole file runs in milliseconds (vitest's reporter shows the time).
 *
 * The fixture schedule has four steps in three stages: [0 Import HR, 1 Import AD] (parallel), [2 Tidy], [3 Report].
 */

let stores: MemoryStores;
let workflow: RecordingWorkflow;
let clock: TestClock;
let services: Services;

beforeEach(() => {
  stores = memoryStores();
  workflow = new RecordingWorkflow();
  clock = new TestClock('2026-03-01T09:00:00.000Z');
  services = composeServices(stores, { workflow, clock });
});

async function scheduleWith(fields: Record<string, unknown> = {}) {
  return services.schedules.create(scheduleInput({ name: `S ${Math.random()}`, ...fields }));
}

/** A run of a new schedule, started (InProgress at stage 0) unless `start` is false. */
async function started(fields: Record<string, unknown> = {}, start = true): Promise<string> {
  const schedule = await scheduleWith(fields);
  const { executionId } = await services.schedules.run(schedule.id, operator);
  if (start) await services.orchestrator.advance(executionId);
  return executionId;
}

const setSteps = async (executionId: string, statuses: Record<number, StepStatus>) => {
  for (const [ordinal, status] of Object.entries(statuses)) {
    const step = await stores.executions.getStep(executionId, Number(ordinal));
    if (!step) throw new Error(`no step ${ordinal}`);
    await stores.executions.updateStep(executionId, Number(ordinal), [step.status], { status });
  }
};

const stepStatuses = async (executionId: string) =>
  (await stores.executions.getSteps(executionId)).map((step) => step.status);

const get = async (id: string) => (await stores.executions.get(id)) as Execution;

describe('advance: the next move from the steps as they stand', () => {
  it.each<{
    name: string;
    steps: Record<number, StepStatus>;
    continueOnFailure?: boolean;
    move: Record<string, unknown>;
    status: ExecutionStatus;
    currentStepIndex?: number;
  }>([
    {
      name: 'nothing ended: stage 0 again',
      steps: {},
      move: { action: 'run', stageIndex: 0 },
      status: 'InProgress',
    },
    {
      name: 'half of stage 0 ended: its other step',
      steps: { 0: 'Completed' },
      move: { action: 'run', stageIndex: 0, steps: [expect.objectContaining({ ordinal: 1 })] },
      status: 'InProgress',
    },
    {
      name: 'stage 0 completed: stage 1',
      steps: { 0: 'Completed', 1: 'Completed with Warning' },
      move: { action: 'run', stageIndex: 1, steps: [expect.objectContaining({ ordinal: 2 })] },
      status: 'InProgress',
      currentStepIndex: 1,
    },
    {
      name: 'a step of stage 0 failed: the execution fails',
      steps: { 0: 'Failed', 1: 'Completed' },
      move: { action: 'finished', status: 'Failed' },
      status: 'Failed',
    },
    {
      name: 'completed with error fails it too',
      steps: { 0: 'Completed', 1: 'Completed with Error' },
      move: { action: 'finished', status: 'Failed' },
      status: 'Failed',
    },
    {
      name: 'a failed step that continues on failure: the next stage',
      steps: { 0: 'Failed', 1: 'Cancelled' },
      continueOnFailure: true,
      move: { action: 'run', stageIndex: 1 },
      status: 'InProgress',
      currentStepIndex: 1,
    },
    {
      name: 'every stage ended well: completed',
      steps: { 0: 'Completed', 1: 'Completed', 2: 'Completed', 3: 'Completed with Warning' },
      move: { action: 'finished', status: 'Completed' },
      status: 'Completed',
    },
  ])('$name', async ({ steps, continueOnFailure, move, status, currentStepIndex }) => {
    const input = scheduleInput().steps.map((step) => ({
      ...step,
      continueOnFailure: continueOnFailure ?? false,
    }));
    const id = await started({ steps: input });
    await setSteps(id, steps);
    expect(await services.orchestrator.advance(id)).toMatchObject(move);
    const execution = await get(id);
    expect(execution.status).toBe(status);
    if (currentStepIndex !== undefined) expect(execution.currentStepIndex).toBe(currentStepIndex);
    if (status === 'Failed') {
      expect(execution.errorMessage).toMatch(/^Stage 0 failed: /);
      expect((await stepStatuses(id)).slice(2)).toEqual(['Cancelled', 'Cancelled']);
    }
  });

  it('starts a queued execution at stage 0, then answers a finished one as it ended', async () => {
    const id = await started({}, false);
    expect(await services.orchestrator.advance(id)).toMatchObject({ action: 'run', stageIndex: 0 });
    expect(await get(id)).toMatchObject({ status: 'InProgress', startedAt: clock.now().toISOString() });
    await services.executions.cancelActive(id, canceller);
    expect(await services.orchestrator.advance(id)).toEqual({ action: 'finished', status: 'Cancelled' });
  });

  it('holds a paused execution at its stage, its pending steps Waiting', async () => {
    const id = await started();
    await setSteps(id, { 0: 'Completed', 1: 'Completed' });
    await services.executions.pause(id);
    expect(await services.orchestrator.advance(id)).toEqual({ action: 'wait', waitSeconds: 3600 });
    expect(await stepStatuses(id)).toEqual(['Completed', 'Completed', 'Waiting', 'Pending']);
  });

  it('keeps a buffered (BufferOne) run queued while an older one is active', async () => {
    const schedule = await scheduleWith({ overlapPolicy: 'BufferOne' });
    const first = (await services.schedules.run(schedule.id, operator)).executionId;
    clock.advance(1000);
    const second = (await services.schedules.run(schedule.id, operator)).executionId;
    expect(await services.orchestrator.advance(second)).toMatchObject({ action: 'wait' });
    expect((await get(second)).status).toBe('Queued');
    await services.executions.cancelActive(first, canceller);
    expect(await services.orchestrator.advance(second)).toMatchObject({ action: 'run', stageIndex: 0 });
  });
});

describe('stepFailed: the state machine gave up on a step', () => {
  it.each([
    { error: { Error: 'States.Timeout' }, from: 'Processing', message: /^Timed out: / },
    { error: { Error: 'States.Timeout' }, from: 'Queued', message: /^Never claimed: / },
    { error: { Error: 'States.HeartbeatTimeout' }, from: 'Processing', message: /^Lost heartbeat/ },
    {
      error: { Error: 'Lambda.Unknown', Cause: 'boom' },
      from: 'Processing',
      message: 'The step failed: Lambda.Unknown: boom',
    },
  ] as const)('$error.Error from $from', async ({ error, from, message }) => {
    const id = await started();
    await setSteps(id, { 0: from });
    await services.orchestrator.stepFailed(id, 0, error);
    const step = await stores.executions.getStep(id, 0);
    expect(step).toMatchObject({ status: 'Failed', completedAt: clock.now().toISOString() });
    expect(step?.errorMessage).toMatch(message);
    expect(await services.orchestrator.advance(id)).toMatchObject({ action: 'run', stageIndex: 0 });
  });

  it('leaves an ended step as it ended, and abandons the task of a failed one', async () => {
    const id = await started();
    await setSteps(id, { 0: 'Completed' });
    await services.orchestrator.stepFailed(id, 0, { Error: 'States.Timeout' });
    expect((await stores.executions.getStep(id, 0))?.status).toBe('Completed');
    await services.orchestrator.enqueueStep(id, 1, 'token-1');
    const taskId = (await stores.executions.getStep(id, 1))?.taskId as string;
    await services.orchestrator.stepFailed(id, 1, { Error: 'States.Timeout' });
    expect((await stores.tasks.get(taskId))?.status).toBe('Abandoned');
  });
});

describe('cancel, pause and resume, from each status', () => {
  const reach: Record<ExecutionStatus, (id: string) => Promise<unknown>> = {
    Queued: async () => undefined,
    InProgress: (id) => services.orchestrator.advance(id),
    Paused: async (id) => {
      await services.orchestrator.advance(id);
      await services.executions.pause(id);
    },
    Completed: async (id) => {
      await services.orchestrator.advance(id);
      await setSteps(id, { 0: 'Completed', 1: 'Completed', 2: 'Completed', 3: 'Completed' });
      await services.orchestrator.advance(id);
    },
    Failed: (id) => services.orchestrator.crash(id, { Error: 'Boom' }),
    Cancelled: (id) => services.executions.cancelActive(id, canceller),
  };
  const at = async (status: ExecutionStatus) => {
    const id = await started({}, false);
    await reach[status](id);
    expect((await get(id)).status).toBe(status);
    return id;
  };

  it.each([
    ['Queued', 'Cancelled'],
    ['InProgress', 'Cancelled'],
    ['Paused', 'Cancelled'],
    ['Completed', ConflictError],
    ['Failed', ConflictError],
    ['Cancelled', ConflictError],
  ] as const)('cancel when %s → %o', async (status, outcome) => {
    const id = await at(status);
    if (outcome === ConflictError) {
      await expect(services.executions.cancelActive(id, canceller)).rejects.toThrow(ConflictError);
      expect(await services.executions.cancelIfActive(id, canceller)).toBeUndefined();
      return;
    }
    const cancelled = await services.executions.cancelActive(id, canceller);
    expect(cancelled).toMatchObject({
      status: 'Cancelled',
      cancelledById: canceller.id,
      cancelledByName: canceller.name,
    });
    expect(workflow.calledWith('stop')).toEqual([[id, `Cancelled by ${canceller.name}.`]]);
    expect(new Set(await stepStatuses(id))).toEqual(new Set(['Cancelled']));
  });

  it.each([
    ['pause', 'InProgress', 'Paused'],
    ['pause', 'Queued', ConflictError],
    ['pause', 'Paused', ConflictError],
    ['pause', 'Completed', ConflictError],
    ['resume', 'Paused', 'InProgress'],
    ['resume', 'InProgress', ConflictError],
    ['resume', 'Queued', ConflictError],
    ['resume', 'Cancelled', ConflictError],
  ] as const)('%s when %s → %o', async (verb, status, outcome) => {
    const id = await at(status);
    if (outcome === ConflictError) {
      await expect(services.executions[verb](id)).rejects.toThrow(ConflictError);
      expect((await get(id)).status).toBe(status);
      return;
    }
    if (verb === 'resume') await services.orchestrator.park(id, 'parked-token');
    expect(await services.executions[verb](id)).toMatchObject({ status: outcome });
    if (verb === 'resume')
      expect(workflow.calledWith('sendTaskSuccess')).toContainEqual(['parked-token', { woken: true }]);
  });
});

describe('overlap: a run of a schedule with active executions', () => {
  const cases: [OverlapPolicy, number, 'queued' | 'refused' | 'supersedes'][] = [];
  for (const active of [0, 1, 2]) {
    cases.push(['Skip', active, active === 0 ? 'queued' : 'refused']);
    cases.push(['BufferOne', active, active < 2 ? 'queued' : 'refused']);
    cases.push(['AllowAll', active, 'queued']);
    cases.push(['CancelOther', active, active === 0 ? 'queued' : 'supersedes']);
  }

  it.each(cases)('%s with %i active → %s', async (policy, activeCount, outcome) => {
    // The active ones were run under AllowAll, then the policy changed.
    const schedule = await scheduleWith({ overlapPolicy: 'AllowAll' });
    const active: string[] = [];
    for (let i = 0; i < activeCount; i++) {
      active.push((await services.schedules.run(schedule.id, operator)).executionId);
      clock.advance(MINUTE);
    }
    await services.schedules.replace(
      schedule.id,
      scheduleInput({ name: schedule.name, overlapPolicy: policy }),
    );
    const run = services.schedules.run(schedule.id, operator);
    if (outcome === 'refused') {
      await expect(run).rejects.toThrow(ConflictError);
      expect(await stores.executions.count({ scheduleId: schedule.id })).toBe(activeCount);
      return;
    }
    const { executionId, status } = await run;
    expect(status).toBe('Queued');
    expect(workflow.calledWith('start')).toContainEqual([executionId]);
    const stillActive = (await stores.executions.listActive(schedule.id)).map((e) => e.id);
    expect(stillActive).toEqual(outcome === 'supersedes' ? [executionId] : [...active, executionId]);
    for (const id of outcome === 'supersedes' ? active : []) {
      expect(await get(id)).toMatchObject({ status: 'Cancelled', cancelledById: operator.id });
    }
  });
});

describe('cron fires: catch-up window and missed counts', () => {
  it.each([
    { name: 'on time', late: 0, window: 0, outcome: FireOutcome.Started, missed: 0 },
    {
      name: 'within the minute the dispatcher may lag',
      late: 59,
      window: 0,
      outcome: FireOutcome.Started,
      missed: 0,
    },
    {
      name: 'half an hour late, no catch-up window',
      late: 1800,
      window: 0,
      outcome: FireOutcome.Missed,
      missed: 1,
    },
    {
      name: 'half an hour late, inside a two-hour window',
      late: 1800,
      window: 7200,
      outcome: FireOutcome.Started,
      missed: 0,
    },
    // Hourly: due at 10:00, now 12:30 → 10:00, 11:00 and 12:00 are due; 12:00 is 30 minutes old.
    {
      name: 'three fires due, the latest in the window',
      late: 9000,
      window: 3600,
      outcome: FireOutcome.Started,
      missed: 2,
    },
    {
      name: 'three fires due, none in the window',
      late: 9000,
      window: 600,
      outcome: FireOutcome.Missed,
      missed: 3,
    },
  ])('$name', async ({ late, window, outcome, missed }) => {
    clock.set('2026-03-01T09:30:00.000Z');
    const schedule = await scheduleWith({
      triggerType: 'Cron',
      isEnabled: true,
      cronExpression: '0 * * * *',
      timeZone: 'UTC',
      catchupWindowSeconds: window,
    });
    expect(schedule.nextRunTime).toBe('2026-03-01T10:00:00.000Z');
    clock.set(new Date(Date.parse('2026-03-01T10:00:00.000Z') + late * 1000));
    const fired = await services.schedules.fireDue(schedule.id);
    expect(fired).toMatchObject({ outcome, missed });
    const after = await services.schedules.get(schedule.id);
    expect(after.missedCount).toBe(missed);
    expect(Date.parse(after.nextRunTime ?? '')).toBeGreaterThan(clock.now().getTime());
    expect(await services.schedules.fireDue(schedule.id)).toMatchObject({ outcome: FireOutcome.NotDue });
  });

  it('skips a fire the overlap policy refuses, counting it', async () => {
    clock.set('2026-03-01T09:30:00.000Z');
    const schedule = await scheduleWith({
      triggerType: 'Cron',
      isEnabled: true,
      cronExpression: '0 * * * *',
      overlapPolicy: 'Skip',
    });
    await services.schedules.run(schedule.id, operator);
    clock.set('2026-03-01T10:00:10.000Z');
    expect(await services.schedules.fireDue(schedule.id)).toMatchObject({ outcome: FireOutcome.Skipped });
    expect((await services.schedules.get(schedule.id)).skippedCount).toBe(1);
  });
});
