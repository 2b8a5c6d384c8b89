import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll } from 'vitest';

/** `npm start` as a user runs it: a child process, its output, its exit. */

export interface Started {
  child: ChildProcess;
  output: () => string;
}

const running = new Set<ChildProcess>();
// Whatever a test leaves running (a failed assertion before its stop) dies with the file.
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
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
