import { ActivityStatus, isTerminalStepStatus, StepStatus } from './model.js';

/**
 * The rules that turn step outcomes into execution outcomes. The orchestrator, the worker endpoints
 * and the tests all use these; nothing else decides what a status means.
 */

/** Activity status a worker reports → the step's status. `InProgress` is not an outcome. */
export const STEP_STATUS_BY_ACTIVITY = {
  [ActivityStatus.Complete]: StepStatus.Completed,
  [ActivityStatus.CompleteWithWarning]: StepStatus.CompletedWithWarning,
  [ActivityStatus.CompleteWithError]: StepStatus.CompletedWithError,
  [ActivityStatus.FailedWithError]: StepStatus.Failed,
  [ActivityStatus.Cancelled]: StepStatus.Cancelled,
} as const satisfies Record<Exclude<ActivityStatus, 'InProgress'>, StepStatus>;

export type FinalActivityStatus = keyof typeof STEP_STATUS_BY_ACTIVITY;

/** Step statuses that stop the execution unless the step says `continueOnFailure`. */
const FAILING: readonly StepStatus[] = [
  StepStatus.Failed,
  StepStatus.CompletedWithError,
  StepStatus.Cancelled,
];

export interface StepOutcome {
  name: string;
  stepIndex: number;
  status: StepStatus;
  continueOnFailure: boolean;
}

/** The steps of a finished stage that fail the execution. */
export const blockingFailures = <T extends StepOutcome>(stage: readonly T[]): T[] =>
  stage.filter((step) => FAILING.includes(step.status) && !step.continueOnFailure);

/** A stage ends when all its steps end: there is no fail-fast inside a stage. */
export const isStageFinished = (stage: readonly { status: StepStatus }[]): boolean =>
  stage.every((step) => isTerminalStepStatus(step.status));

/** The execution's errorMessage when a stage fails it. */
export const stageFailureMessage = (failures: readonly StepOutcome[]): string =>
  `Stage ${failures[0]?.stepIndex ?? 0} failed: ${failures.map((s) => `'${s.name}' ${s.status}`).join(', ')}.`;

/** Steps grouped by stage, in stage order. */
export function stagesOf<T extends { stepIndex: number }>(steps: readonly T[]): T[][] {
  const byStage = new Map<number, T[]>();
  for (const step of steps) byStage.set(step.stepIndex, [...(byStage.get(step.stepIndex) ?? []), step]);
  return [...byStage.entries()].sort(([a], [b]) => a - b).map(([, stage]) => stage);
}
