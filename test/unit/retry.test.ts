import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.js';
import { StepStatus } from '../../core/model.js';
import type { ExecutionStepRecord } from '../../core/ports.js';
import { retryStart, retrySteps } from '../../core/services/schedules.js';
import { NOT_RUN_STEP } from '../helpers/seed-fields.js';

/** Step rows of stages 0, 0, 1, 2 that ended as given. */
function ended(...statuses: StepStatus[]): ExecutionStepRecord[] {
  const stages = [0, 0, 1, 2];
  return statuses.map(
    (status, ordinal) =>
      ({
        ordinal,
        stepIndex: stages[ordinal],
        name: `step ${ordinal}`,
        status,
        taskId: `task-${ordinal}`,
        startedAt: '2026-04-05T06:00:00.000Z',
        completedAt: '2026-04-05T06:01:00.000Z',
        errorMessage: status === StepStatus.Failed ? 'boom' : null,
        activityId: `activity-${ordinal}`,
        activityStatus: 'Complete',
        definition: {
          id: `00000000-0000-4000-8000-00000000000${ordinal}`,
          stepIndex: stages[ordinal],
          name: `step ${ordinal}`,
          stepType: 'Executable',
          executablePath: '/bin/true',
          executionMode: ordinal === 1 ? 'ParallelWithPrevious' : 'Sequential',
          continueOnFailure: false,
          timeoutSeconds: 60,
          workerPool: 'default',
        },
      }) as unknown as ExecutionStepRecord,
  );
}

const { Completed, CompletedWithWarning, CompletedWithError, Failed, Cancelled } = StepStatus;

describe('retryStart', () => {
  it.each([
    ['the stage of a Failed step', [Completed, CompletedWithWarning, Failed, Cancelled], 1],
    ['a stage whose one step of two failed', [Completed, Failed, Cancelled, Cancelled], 0],
    [
      'a stage with a Completed with Error step (even one that continued)',
      [Completed, Completed, CompletedWithError, Completed],
      1,
    ],
    ['the stage a cancel stopped', [Completed, Completed, Completed, Cancelled], 2],
    [
      'the first stage when every step completed (a crash or cancel after the last)',
      [Completed, Completed, Completed, Completed],
      0,
    ],
  ] as const)('starts by default at %s', (_label, statuses, stage) => {
    expect(retryStart(ended(...statuses))).toBe(stage);
  });

  it.each([0, 1, 2])('starts at fromStepIndex %i when asked', (from) => {
    expect(retryStart(ended(Completed, Completed, Failed, Cancelled), from)).toBe(from);
  });

  it('refuses a fromStepIndex past the last stage, naming it', () => {
    const refuse = () => retryStart(ended(Completed, Completed, Failed, Cancelled), 3);
    expect(refuse).toThrow(ValidationError);
    expect(refuse).toThrow(
      expect.objectContaining({
        validationErrors: { fromStepIndex: ['Must be a stage of the execution: 0 to 2'] },
      }),
    );
  });
});

describe('retrySteps', () => {
  it('carries the stages before the start over as they ended, without their task, and resets the rest', () => {
    const original = ended(Completed, CompletedWithWarning, Failed, Cancelled);
    const steps = retrySteps(original, 1);
    expect(steps.slice(0, 2)).toEqual(
      original.slice(0, 2).map((s) => ({ ...s, taskId: null, carriedOver: true })),
    );
    expect(steps.slice(2)).toEqual(
      original.slice(2).map((s) =>
        expect.objectContaining({
          ordinal: s.ordinal,
          stepIndex: s.stepIndex,
          definition: s.definition,
          ...NOT_RUN_STEP,
          carriedOver: false,
        }),
      ),
    );
  });
});
