import { parseArgs } from 'node:util';
import { WorkerAgent } from './agent.js';
import { ConfigError, loadWorkerConfig } from './config.js';
import { createLogger } from './log.js';

export const USAGE = `Usage: worker --config <file>

Runs the worker agent of the schedule execution service: claims tasks for its pools, runs them
(Executable, PowerShell, SqlScript, RunProfile), heartbeats, and reports each outcome.

Options:
  -c, --config <file>   the worker configuration (JSON); default $WORKER_CONFIG, else ./worker.json
  -h, --help            this text

Environment:
  WORKER_API_KEY        the Worker API key (or the variable named by "apiKeyEnv" in the file)

SIGTERM or SIGINT stops gracefully: no new tasks; running steps get shutdownGraceSeconds to finish,
then are stopped and reported Cancelled. A second signal stops them at once.`;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** The worker command line; resolves with the exit code once the agent has stopped. */
export async function runWorkerCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = consoleIo,
): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }

  const file = values.config ?? env.WORKER_CONFIG ?? 'worker.json';
  let config: Awaited<ReturnType<typeof loadWorkerConfig>>;
  try {
    config = await loadWorkerConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(error.message);
      return 2;
    }
    throw error;
  }
  const apiKey = env[config.apiKeyEnv];
  if (!apiKey) {
    io.err(
      `The environment variable ${config.apiKeyEnv} is not set: it must hold the worker's API key ` +
        '(an API key with the Worker role, created with POST /api-keys).',
    );
    return 2;
  }

  const logger = createLogger({ level: config.logLevel, fields: { workerId: config.workerId } });
  const agent = new WorkerAgent({ config, apiKey, env, logger });
  let signals = 0;
  let stopped: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      logger.info('signal received; stopping gracefully', {
        signal,
        graceSeconds: config.shutdownGraceSeconds,
      });
      void agent.stop().then(stopped);
    } else {
      logger.warn('second signal received; stopping running steps now', { signal });
      void agent.stop({ graceSeconds: 0 });
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  agent.start();
  await done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return 0;
}
