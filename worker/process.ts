import { type ChildProcess, spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { STEP_OUTPUT_BYTES } from '../core/step-output.js';

/**
 * Bytes of stdout and of stderr kept (the end of each), for the report: as much as the step's
 * `output` shows, so either stream alone can fill it (`outputOf` shares it between the two).
 */
export const DEFAULT_TAIL_BYTES = STEP_OUTPUT_BYTES;
/** Longest progress line handed to `onStdoutLine`. */
const MAX_LINE = 1000;
/** After SIGKILL, how long to wait for the pipes to close before giving up on them. */
const DRAIN_MS = 2000;

const isWindows = process.platform === 'win32';

export interface RunProcessOptions {
  /** The program: a path, or a name looked up on `env.PATH`. Never run through a shell. */
  command: string;
  args: readonly string[];
  cwd?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Aborting stops the whole process tree: SIGTERM to its process group, SIGKILL after `killGraceMs`. */
  signal: AbortSignal;
  killGraceMs?: number;
  tailBytes?: number;
  /** Each complete non-empty stdout line (cut to 1000 characters), e.g. for heartbeat progress. */
  onStdoutLine?: (line: string) => void;
}

export interface ProcessResult {
  /** Exit code, or null when the process was ended by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last `tailBytes` of stdout and of stderr, as text. */
  stdout: string;
  stderr: string;
  /** Set when the program could not be started (ENOENT: not found, EACCES: not executable …). */
  spawnError?: NodeJS.ErrnoException;
  /** True when the run was stopped because `signal` aborted. */
  aborted: boolean;
  pid?: number | undefined;
}

/**
 * Runs a program without a shell, in a process group of its own, and waits for it.
 *
 * - stdin is closed (`/dev/null`), so nothing waits for input; stdout and stderr are read continuously
 *   and only their ends are kept, so a chatty program costs bounded memory.
 * - On abort the whole group gets SIGTERM and, if anything is still there after `killGraceMs`, SIGKILL
 *   (on Windows `taskkill /T /F` stops the tree).
 * - When the main process ends by itself, whatever it left running in its group (background children)
 *   is stopped the same way: a step does not leave processes behind.
 *
 * Never rejects: a failure to start is reported in `spawnError`.
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessResult> {
  const tailBytes = options.tailBytes ?? DEFAULT_TAIL_BYTES;
  const killGraceMs = options.killGraceMs ?? 5000;
  const stdout = new Tail(tailBytes);
  const stderr = new Tail(tailBytes);
  const base = { exitCode: null, signal: null, stdout: '', stderr: '' };
  if (options.signal.aborted) return Promise.resolve({ ...base, aborted: true });

  let child: ChildProcess;
  try {
    child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      // A new session and process group on POSIX, so the tree can be signalled as one.
      detached: !isWindows,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (error) {
    // Synchronous failures: invalid arguments such as a NUL byte.
    return Promise.resolve({ ...base, aborted: false, spawnError: error as NodeJS.ErrnoException });
  }

  return new Promise((resolve) => {
    const pid = child.pid;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let closed = false;
    let aborted = false;
    let terminating = false;
    let done = false;
    const timers: NodeJS.Timeout[] = [];

    const lines = options.onStdoutLine ? lineSplitter(options.onStdoutLine) : undefined;
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      lines?.(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

    const finish = (spawnError?: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      // Anything of the group still alive now was already told to stop and has closed its pipes.
      if (terminating && !isWindows) signalTree(pid, 'SIGKILL');
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: stdout.text(),
        stderr: stderr.text(),
        aborted,
        pid,
        ...(spawnError ? { spawnError } : {}),
      });
    };

    /** SIGTERM now, SIGKILL after the grace period, and stop waiting for the pipes soon after. */
    const terminate = () => {
      if (terminating) return;
      terminating = signalTree(pid, 'SIGTERM');
      if (!terminating) return;
      timers.push(
        setTimeout(() => {
          signalTree(pid, 'SIGKILL');
          timers.push(
            setTimeout(() => {
              // A process outside the group still holds a pipe: stop reading rather than wait for it.
              child.stdout?.destroy();
              child.stderr?.destroy();
              finish();
            }, DRAIN_MS),
          );
        }, killGraceMs),
      );
    };

    const onAbort = () => {
      aborted = true;
      terminate();
    };

    child.once('error', (error: NodeJS.ErrnoException) => {
      // Only a failure to start ends the run here; a later error (a failed kill) is not an outcome.
      if (child.pid === undefined) finish(error);
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      if (closed) {
        finish();
        return;
      }
      // Background children the program left behind hold the pipes open; stop them with it.
      if (!isWindows) terminate();
      // A process that left the group (setsid) may hold them for ever: stop reading after the grace period.
      timers.push(
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, killGraceMs + DRAIN_MS),
      );
    });
    child.once('close', () => {
      closed = true;
      if (exit) finish();
    });
    options.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Signals the process group led by `pid` (the tree on Windows); false when nothing was there. */
function signalTree(pid: number | undefined, signal: 'SIGTERM' | 'SIGKILL'): boolean {
  if (pid === undefined) return false;
  if (isWindows) {
    // No process groups: taskkill walks the tree. It has no graceful form for console programs.
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true }).on(
        'error',
        () => {},
      );
    }
    return true;
  }
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone. EPERM cannot happen for our own children.
    return false;
  }
}

/** The last `max` bytes written, decoded as UTF-8 at the end. */
export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Whether bytes were dropped from the front. */
  truncated = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      const first = this.chunks[0];
      if (!first || this.size - first.length < this.max) break;
      this.chunks.shift();
      this.size -= first.length;
      this.truncated = true;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    if (all.length <= this.max) return all.toString('utf8');
    this.truncated = true;
    // Cut at a character boundary: skip UTF-8 continuation bytes at the start.
    let start = all.length - this.max;
    while (start < all.length && ((all[start] ?? 0) & 0xc0) === 0x80) start += 1;
    return all.subarray(start).toString('utf8');
  }
}

/** Calls `onLine` with each complete, non-empty line of a byte stream. */
function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  return (chunk) => {
    const parts = (partial + decoder.write(chunk)).split(/\r?\n/);
    partial = (parts.pop() ?? '').slice(-MAX_LINE * 4);
    for (const part of parts) {
      const line = part.trim();
      if (line) onLine(line.slice(0, MAX_LINE));
    }
  };
}
