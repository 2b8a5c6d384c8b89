import { stat } from 'node:fs/promises';
import { ArgumentsError, splitArguments } from '../arguments.js';
import { failed, outputOf, processOutcome, stoppedOutcome } from '../outcome.js';
import { runProcess } from '../process.js';
import type { RunContext, StepOutcome } from './types.js';

/** What every process-running runner needs from the worker. */
export interface ProcessRunnerOptions {
  /** Named in messages ("… is not installed on worker <id>"). */
  workerId: string;
  /** Environment of step processes: the worker's own, without its secrets. */
  env: NodeJS.ProcessEnv;
  /** After SIGTERM to a stopped step's process group, how long before SIGKILL. */
  killGraceMs: number;
  /** Bytes of stdout and of stderr kept for the report. */
  tailBytes?: number;
}

/** A step's `arguments` split by shell-style quoting, or the failed outcome that says they are not. */
export function stepArguments(line: string | null | undefined): string[] | StepOutcome {
  try {
    return splitArguments(line);
  } catch (error) {
    if (error instanceof ArgumentsError) return failed(`Invalid arguments: ${error.message}`);
    throw error;
  }
}

export interface Launch {
  command: string;
  args: readonly string[];
  cwd?: string | undefined;
  /** Turns a failure to start (ENOENT, EACCES …) into the step's errorMessage. */
  describeSpawnError: (error: NodeJS.ErrnoException) => string | Promise<string>;
}

/**
 * Runs one process for a step and turns its end into the outcome by the convention in `outcome.ts`.
 * The process sees `SCHEDULE_TASK_ID`, `SCHEDULE_EXECUTION_ID`, `SCHEDULE_STEP_NAME` and
 * `SCHEDULE_WORKER_ID` besides the worker's environment.
 */
export async function runStepProcess(
  launch: Launch,
  step: { name: string; timeoutSeconds: number },
  context: RunContext,
  options: ProcessRunnerOptions,
): Promise<StepOutcome> {
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    SCHEDULE_TASK_ID: context.taskId,
    SCHEDULE_STEP_NAME: step.name,
    SCHEDULE_WORKER_ID: options.workerId,
    ...(context.executionId ? { SCHEDULE_EXECUTION_ID: context.executionId } : {}),
  };
  const result = await runProcess({
    command: launch.command,
    args: launch.args,
    cwd: launch.cwd,
    env,
    signal: context.signal,
    killGraceMs: options.killGraceMs,
    ...(options.tailBytes ? { tailBytes: options.tailBytes } : {}),
    ...(context.progress ? { onStdoutLine: context.progress } : {}),
  });
  if (result.spawnError) {
    if (result.aborted) return stoppedOutcome(context.reason(), step.timeoutSeconds);
    return failed(await launch.describeSpawnError(result.spawnError));
  }
  if (result.aborted) {
    return stoppedOutcome(context.reason(), step.timeoutSeconds, {
      output: outputOf(result.stdout, result.stderr),
    });
  }
  return processOutcome(result);
}

/** A problem with a working directory, or undefined when it is a directory. */
export async function directoryProblem(path: string, workerId: string): Promise<string | undefined> {
  try {
    if ((await stat(path)).isDirectory()) return undefined;
    return `Working directory "${path}" is not a directory on worker ${workerId}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `Working directory "${path}" does not exist on worker ${workerId}`
      : `Working directory "${path}" cannot be used on worker ${workerId} (${code})`;
  }
}

/** Explains why `command` could not be started; `what` names it ("Executable", "Adapter command"). */
export async function describeSpawnError(
  error: NodeJS.ErrnoException,
  what: string,
  command: string,
  workerId: string,
): Promise<string> {
  switch (error.code) {
    case 'ENOENT': {
      // The file may exist and name a missing interpreter on its #! line.
      const exists =
        command.includes('/') &&
        (await stat(command).then(
          () => true,
          () => false,
        ));
      return exists
        ? `${what} "${command}" exists on worker ${workerId} but could not be started: its interpreter (the #! line) was not found`
        : `${what} not found on worker ${workerId}: "${command}" (ENOENT${command.includes('/') ? '' : '; looked on PATH'})`;
    }
    case 'EACCES':
      return `${what} "${command}" is not executable on worker ${workerId} (EACCES: check its permissions)`;
    default:
      return `${what} "${command}" could not be started on worker ${workerId}: ${error.message}`;
  }
}
