import { access } from 'node:fs/promises';
import type { StepType } from '../../core/model.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import { failed } from '../outcome.js';
import { type ProcessRunnerOptions, runStepProcess, stepArguments } from './process-step.js';
import type { RunContext, StepOutcome, StepRunner } from './types.js';

export type PowerShellStep = Extract<ScheduleStep, { stepType: typeof StepType.PowerShell }>;

export interface PowerShellRunnerOptions extends ProcessRunnerOptions {
  /** The PowerShell 7 executable: a path, or a name looked up on PATH (default `pwsh`). */
  pwshPath: string;
}

/**
 * Runs a `PowerShell` step as `<pwshPath> -NoProfile -NonInteractive -File <scriptPath> <arguments…>`
 * (arguments split by shell-style quoting). A script that `throw`s or calls `exit 1` fails the step;
 * it may print a result line to report a warning (see `outcome.ts`).
 */
export class PowerShellRunner implements StepRunner<PowerShellStep> {
  constructor(private readonly options: PowerShellRunnerOptions) {}

  async run(step: PowerShellStep, context: RunContext): Promise<StepOutcome> {
    const { pwshPath, workerId } = this.options;
    const args = stepArguments(step.arguments);
    if (!Array.isArray(args)) return args;
    const missing = await access(step.scriptPath).then(
      () => undefined,
      (error: NodeJS.ErrnoException) => error.code,
    );
    if (missing) {
      return failed(
        missing === 'ENOENT'
          ? `PowerShell script not found on worker ${workerId}: "${step.scriptPath}"`
          : `PowerShell script "${step.scriptPath}" cannot be read on worker ${workerId} (${missing})`,
      );
    }
    return runStepProcess(
      {
        command: pwshPath,
        args: ['-NoProfile', '-NonInteractive', '-File', step.scriptPath, ...args],
        describeSpawnError: (error) =>
          error.code === 'ENOENT'
            ? `PowerShell (pwsh) is not installed on worker ${workerId}: "${pwshPath}" was not found` +
              `${pwshPath.includes('/') || pwshPath.includes('\\') ? '' : ' on PATH'}. ` +
              'Install PowerShell 7 or set pwshPath in the worker configuration.'
            : `PowerShell ("${pwshPath}") could not be started on worker ${workerId}: ${error.code ?? error.message}`,
      },
      step,
      context,
      this.options,
    );
  }
}
