import { ExecutionMode } from './model.js';

/**
 * Stage grouping: a `Sequential` step opens a new stage, a `ParallelWithPrevious` step joins the
 * stage of the step before it. The first step always opens stage 0, whatever its mode says, so a
 * schedule can never begin "in parallel with nothing".
 */
export function assignStageIndexes<T extends { executionMode: ExecutionMode }>(
  steps: readonly T[],
): (T & { stepIndex: number })[] {
  let stage = -1;
  return steps.map((step, position) => {
    if (position === 0 || step.executionMode === ExecutionMode.Sequential) stage += 1;
    return { ...step, stepIndex: stage };
  });
}

/** Number of stages: what an execution reports as `totalSteps`. */
export function countStages(steps: readonly { stepIndex: number }[]): number {
  return new Set(steps.map((step) => step.stepIndex)).size;
}

/** The steps stage by stage, in stage order (each stage's steps in their order): what runs side by side. */
export function stagesOf<T extends { stepIndex: number }>(steps: readonly T[]): T[][] {
  const stages = new Map<number, T[]>();
  for (const step of steps) stages.set(step.stepIndex, [...(stages.get(step.stepIndex) ?? []), step]);
  return [...stages.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}
