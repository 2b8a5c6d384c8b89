import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionStatus } from '../../core/model.js';
import { stagesOf } from '../../core/stages.js';
import { blockingFailures, isStageFinished } from '../../core/status-rules.js';
import { isActiveExecutionStatus, isTerminalStepStatus } from '../../core/transitions.js';
import type { LocalStack } from '../../local/stack.js';
import { eventually } from '../helpers/eventually.js';
import { type ApiClient, apiClient, startTestStack } from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';
import { type ExecutionView, getExecution, run } from './processes.js';

/**
 * A cancel request racing the completion of an execution's last step, 100 times, with the complete
 * and the cancel fired concurrently at offsets from one side of the race to the other. Every trial
 * must end in one state the contract allows, agree with what each request was answered, and never
 * change afterwards.
 */

const TRIALS = 100;
/** Trials run in this many lanes at once (each its own schedule and worker pool); each lane's trials in turn. */
const LANES = 5;
/** The cancel is sent this many ms after the complete (negative: before), cycling through the list. */
const OFFSETS_MS = [-20, -10, -5, 0, 0, 5, 10, 20, 40, 80];
/** How long after its end a trial's state is read again. */
const SETTLE_MS = 2_000;

interface Trial {
  executionId: string;
  offsetMs: number;
  cancelStatus: number;
  cancelBodyStatus: string | undefined;
  completeAccepted: boolean;
  ended: ExecutionView;
}

/**
 * The contract's verdict on a trial: the outcome's name, or what is inconsistent about it.
 * - the complete won: the execution is Completed by the rules (every stage finished, nothing
 *   blocking), the cancel was refused with 409;
 * - the cancel won: the execution is Cancelled, the cancel answered 200 `Cancelled`, no step is left
 *   running, and the step is Cancelled exactly when the complete was refused (a step that finished
 *   before the cancel keeps its outcome; nothing that finishes afterwards changes it).
 */
function verdict(trial: Trial): string {
  const { ended } = trial;
  const { steps } = ended;
  const step = steps[0]?.status;
  if (!steps.every((s) => isTerminalStepStatus(s.status))) return `inconsistent: a step is still ${step}`;
  if (!ended.completedAt) return 'inconsistent: no completedAt';
  if (ended.status === ExecutionStatus.Completed) {
    const byRules = stagesOf(steps).every(
      (stage) => isStageFinished(stage) && blockingFailures(stage).length === 0,
    );
    if (!byRules) return `inconsistent: Completed with step ${step}`;
    if (trial.cancelStatus !== 409)
      return `inconsistent: Completed after cancel answered ${trial.cancelStatus}`;
    if (!trial.completeAccepted) return 'inconsistent: Completed although the complete was refused';
    return 'complete won: Completed, cancel 409';
  }
  if (ended.status === ExecutionStatus.Cancelled) {
    if (trial.cancelStatus !== 200 || trial.cancelBodyStatus !== ExecutionStatus.Cancelled)
      return `inconsistent: Cancelled but cancel answered ${trial.cancelStatus} ${trial.cancelBodyStatus}`;
    if (trial.completeAccepted !== (step === 'Completed'))
      return `inconsistent: step ${step} but complete accepted=${trial.completeAccepted}`;
    return `cancel won: Cancelled, step ${step}`;
  }
  return `inconsistent: execution ${ended.status}`;
}

const snapshot = (e: ExecutionView) =>
  JSON.stringify({
    status: e.status,
    completedAt: e.completedAt,
    steps: e.steps.map((s) => [s.status, s.errorMessage]),
  });

describe('cancel racing the last step completing', () => {
  let stack: LocalStack;
  let admin: ApiClient;
  let workerApi: ApiClient;

  beforeAll(async () => {
    stack = await startTestStack();
    admin = apiClient(stack);
    const key = await admin.post('/api-keys', { name: 'race-worker', roles: ['Worker'] });
    workerApi = apiClient(stack, key.body.key);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it(`ends every one of ${TRIALS} trials in one consistent state that never changes`, async () => {
    // Arrange: per lane a schedule of one step in a pool of its own, and a worker for that pool.
    const lanes = await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        const pool = `race-${lane}`;
        const schedule = await admin.post('/schedules', {
          name: `Cancel race ${lane}`,
          triggerType: 'Manual',
          steps: [
            { name: 'Last step', stepType: 'Executable', executablePath: '/bin/true', workerPool: pool },
          ],
        });
        const worker = new TestWorker(workerApi, `race-worker-${lane}`);
        worker.pools = [pool];
        return { scheduleId: schedule.body.id as string, worker };
      }),
    );
    const trialOf = async (lane: (typeof lanes)[number], index: number): Promise<Trial> => {
      const executionId = await run(admin, lane.scheduleId);
      const [task] = await lane.worker.claimAtLeast(1);
      const offsetMs = OFFSETS_MS[index % OFFSETS_MS.length] as number;
      const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

      // Act: the complete and the cancel, concurrently, the one `offsetMs` after the other.
      const [complete, cancel] = await Promise.all([
        delay(-offsetMs).then(() => lane.worker.complete(task?.taskId as string)),
        delay(offsetMs).then(() => admin.post(`/schedule-executions/${executionId}/cancel`)),
      ]);
      const ended = await eventually(
        () => getExecution(admin, executionId),
        (e) => !isActiveExecutionStatus(e.status),
      );
      return {
        executionId,
        offsetMs,
        cancelStatus: cancel.status,
        cancelBodyStatus: cancel.body?.status,
        completeAccepted: complete.status === 200 && complete.body.accepted,
        ended,
      };
    };
    const startedAt = Date.now();
    const trials = (
      await Promise.all(
        lanes.map(async (lane, l) => {
          const done: Trial[] = [];
          for (let i = l; i < TRIALS; i += LANES) done.push(await trialOf(lane, i));
          return done;
        }),
      )
    ).flat();
    const racedMs = Date.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const later = await Promise.all(trials.map((t) => getExecution(admin, t.executionId)));

    // Assert: each trial consistent, and unchanged since it ended.
    const histogram: Record<string, number> = {};
    for (const trial of trials) {
      const name = verdict(trial);
      histogram[name] = (histogram[name] ?? 0) + 1;
    }
    const changed = trials.filter((t, i) => snapshot(t.ended) !== snapshot(later[i] as ExecutionView));
    console.log(
      `[faults] cancel vs last-step complete, ${trials.length} trials in ${(racedMs / 1000).toFixed(1)} s (offsets ${OFFSETS_MS.join(', ')} ms): ${JSON.stringify(histogram)}; changed afterwards: ${changed.length}`,
    );
    expect(trials).toHaveLength(TRIALS);
    expect(Object.keys(histogram).filter((name) => name.startsWith('inconsistent'))).toEqual([]);
    expect(changed.map((t) => t.executionId)).toEqual([]);
    // The offsets reach both sides of the race: otherwise the trials proved nothing about it.
    expect(histogram['complete won: Completed, cancel 409']).toBeGreaterThan(0);
    expect(histogram['cancel won: Cancelled, step Cancelled']).toBeGreaterThan(0);
  });
});
