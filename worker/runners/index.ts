import { StepType } from '../../core/model.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import { secretVariables, type WorkerConfig } from '../config.js';
import { ExecutableRunner } from './executable.js';
import { PowerShellRunner } from './powershell.js';
import { RunProfileRunner } from './run-profile.js';
import { SqlScriptRunner } from './sql.js';
import type { StepRunner } from './types.js';

/** One runner per step type. */
export type RunnerTable = {
  [T in StepType]: StepRunner<Extract<ScheduleStep, { stepType: T }>>;
};

/**
 * The environment step processes get: the worker's, minus every variable the configuration names as
 * a secret, so a user's script cannot read the worker's credentials.
 */
export function childEnvironment(config: WorkerConfig, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const hidden = secretVariables(config);
  return Object.fromEntries(Object.entries(env).filter(([name]) => !hidden.has(name)));
}

/** The runners for a configuration; `env` is the worker's environment (secrets are read from it). */
export function createRunners(config: WorkerConfig, env: NodeJS.ProcessEnv = process.env): RunnerTable {
  const processOptions = {
    workerId: config.workerId,
    env: childEnvironment(config, env),
    killGraceMs: config.killGraceSeconds * 1000,
  };
  return {
    [StepType.Executable]: new ExecutableRunner(processOptions),
    [StepType.PowerShell]: new PowerShellRunner({ ...processOptions, pwshPath: config.pwshPath }),
    [StepType.RunProfile]: new RunProfileRunner({
      ...processOptions,
      connectedSystems: config.connectedSystems,
      secrets: env,
    }),
    [StepType.SqlScript]: new SqlScriptRunner(config.sqlConnections, env),
  };
}
