import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll } from 'vitest';
import { eventually } from './eventually.js';
import { processTree } from './listeners.js';

/** `npm start` as a user runs it: a child process, its output, its exit. */

export interface Started {
  child: ChildProcess;
  output: () => string;
}

const running = new Set<ChildProcess>();
/** SIGKILL to every process of the child's tree at once; the pids it was sent to. */
function killAll(child: ChildProcess): number[] {
  const pids = processTree(child.pid as number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

// Whatever a test leaves running (a failed assertion before its stop) dies with the file: its whole
// tree, or DynamoDB Local's JVM and the worker's steps outlive it as orphans.
afterAll(() => {
  for (const child of running) killAll(child);
});

/** Runs `entry` (default `bin/local.ts`, i.e. `npm start`; e.g. `['bin/worker.ts', '--config', f]`) with tsx. */
export function start(env: Record<string, string>, entry: readonly string[] = ['bin/local.ts']): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', ...entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

export async function waitFor(started: Started, text: RegExp, ms = 45_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = started.output().match(text);
    if (found) return found;
    if (started.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Did not see ${text} in:\n${started.output()}`);
}

/** SIGTERM, as Ctrl-C does; resolves with the exit code. */
export async function stop(started: Started): Promise<number | null> {
  // A child killed by a signal has a signalCode and no exitCode: it will not exit again.
  if (started.child.exitCode !== null || started.child.signalCode !== null) return started.child.exitCode;
  const exited = new Promise<number | null>((done) => started.child.once('exit', (code) => done(code)));
  started.child.kill('SIGTERM');
  return exited;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGKILL to every process of the tree at once (the node process, DynamoDB Local's JVM, the worker's
 * step processes), as a power cut or the OOM killer would: no handler runs, nothing is flushed.
 * Resolves with the pids once every one of them is gone.
 */
export async function killTree(started: Started): Promise<number[]> {
  const exited = new Promise<void>((done) => started.child.once('exit', () => done()));
  const pids = killAll(started.child);
  await exited;
  // Orphaned grandchildren are reaped by init; wait until none is left.
  await eventually(
    async () => pids.filter(alive),
    (left) => left.length === 0,
    10_000,
  );
  return pids;
}
