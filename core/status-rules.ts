import type { StepStatus } from './model.js';
import { isTerminalStepStatus, STAGE_FAILING_STEP_STATUSES } from './transitions.js';

/**
 * The rules that turn step outcomes into execution outcomes. The orchestrator and the tests use
 * these; which statuses count as failing, and where a worker's report moves a step, are in the table
 * of moves (core/transitions.ts).
 */

export interface StepOutcome {
  name: string;
  stepIndex: number;
  status: StepStatus;
  continueOnFailure: boolean;
}

/** The steps of a finished stage that fail the execution. */
export const blockingFailures = <T extends StepOutcome>(stage: readonly T[]): T[] =>
  stage.filter((step) => STAGE_FAILING_STEP_STATUSES.includes(step.status) && !step.continueOnFailure);

/** A stage ends when all its steps end: there is no fail-fast inside a stage. */
export const isStageFinished = (stage: readonly { status: StepStatus }[]): boolean =>
  stage.every((step) => isTerminalStepStatus(step.status));

/** The execution's errorMessage when a stage fails it. */
export const stageFailureMessage = (failures: readonly StepOutcome[]): string =>
  `Stage ${failures[0]?.stepIndex ?? 0} failed: ${failures.map((s) => `'${s.name}' ${s.status}`).join(', ')}.`;
