import type { StepType } from '../../core/model.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import { ArgumentsError, splitArguments } from '../arguments.js';
import { failed } from '../outcome.js';
import {
  describeSpawnError,
  directoryProblem,
  type ProcessRunnerOptions,
  runStepProcess,
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
    let args: string[];
    try {
      args = splitArguments(step.arguments);
    } catch (error) {
      if (error instanceof ArgumentsError) return failed(`Invalid arguments: ${error.message}`);
      throw error;
    }
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
