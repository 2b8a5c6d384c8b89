import type { StepType } from '../../core/model.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import { failed } from '../outcome.js';
import {
  describeSpawnError,
  directoryProblem,
  type ProcessRunnerOptions,
  runStepProcess,
  stepArguments,
} from './process-step.js';
import type { RunContext, StepOutcome, StepRunner } from './types.js';

export type ExecutableStep = Extract<ScheduleStep, { stepType: typeof StepType.Executable }>;

/**
 * Runs an `Executable` step: `executablePath` (a path, or a name looked up on PATH) with `arguments`
 * split by shell-style quoting, in `workingDirectory` (the worker's own when absent). No shell is
 * involved; the outcome follows the convention in `outcome.ts`.
 */
export class ExecutableRunner implements StepRunner<ExecutableStep> {
  constructor(private readonly options: ProcessRunnerOptions) {}

  async run(step: ExecutableStep, context: RunContext): Promise<StepOutcome> {
    const args = stepArguments(step.arguments);
    if (!Array.isArray(args)) return args;
    const cwd = step.workingDirectory ?? undefined;
    if (cwd) {
      const problem = await directoryProblem(cwd, this.options.workerId);
      if (problem) return failed(problem);
    }
    return runStepProcess(
      {
        command: step.executablePath,
        args,
        cwd,
        describeSpawnError: (error) =>
          describeSpawnError(error, 'Executable', step.executablePath, this.options.workerId),
      },
      step,
      context,
      this.options,
    );
  }
}
