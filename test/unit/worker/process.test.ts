import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess, Tail } from '../../../worker/process.js';
import { eventually } from '../../helpers/eventually.js';
import { suiteTempDir } from '../../helpers/temp-dir.js';

/** True while `pid` is a live process (a zombie waiting for a reaper counts as gone). */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return !/^State:\s+Z/m.test(status);
}

const never = new AbortController().signal;

describe('runProcess', () => {
  const dir = suiteTempDir('worker-process-');

  it('returns the exit code and the output, without a shell', async () => {
    const result = await runProcess({ command: 'printf', args: ['%s|', 'a b', '$HOME', '*'], signal: never });

    expect(result).toMatchObject({
      exitCode: 0,
      signal: null,
      stdout: 'a b|$HOME|*|',
      stderr: '',
      aborted: false,
    });
  });

  it('keeps only the tail of a long output', async () => {
    const result = await runProcess({
      command: '/bin/sh',
      args: ['-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo fin >&2; exit 3'],
      signal: never,
      tailBytes: 64,
    });

    expect(result.exitCode).toBe(3);
    expect(Buffer.byteLength(result.stdout)).toBeLessThanOrEqual(64);
    expect(result.stdout.endsWith('line 1999\n')).toBe(true);
    expect(result.stderr).toBe('fin\n');
  });

  it('reports a program that does not exist', async () => {
    const result = await runProcess({ command: join(dir(), 'missing'), args: [], signal: never });

    expect(result.spawnError?.code).toBe('ENOENT');
  });

  it('stops the whole process group on abort', async () => {
    const pids = join(dir(), 'pids');
    const controller = new AbortController();
    const running = runProcess({
      command: '/bin/sh',
      args: ['-c', `sleep 30 & echo $! > ${pids}; sleep 30 & echo $! >> ${pids}; wait`],
      signal: controller.signal,
      killGraceMs: 2000,
    });
    const children = (
      await eventually(
        () => readFile(pids, 'utf8').catch(() => ''),
        (text) => text.trim().split('\n').length === 2,
      )
    )
      .trim()
      .split('\n')
      .map(Number);

    controller.abort();
    const result = await running;

    expect(result.aborted).toBe(true);
    for (const pid of children) expect(await alive(pid)).toBe(false);
  });

  it('kills a tree that ignores SIGTERM after the grace period', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const running = runProcess({
      command: '/bin/sh',
      args: ['-c', "trap '' TERM; echo ready; sleep 30"],
      signal: controller.signal,
      killGraceMs: 300,
      onStdoutLine: () => controller.abort(),
    });

    const result = await running;

    expect(result.aborted).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops background children a finished program left behind', async () => {
    const pidFile = join(dir(), 'left-behind');
    const result = await runProcess({
      command: '/bin/sh',
      args: ['-c', `sleep 30 & echo $! > ${pidFile}; echo done`],
      signal: never,
    });
    const pid = Number(await readFile(pidFile, 'utf8'));

    expect(result).toMatchObject({ exitCode: 0, stdout: 'done\n' });
    await eventually(
      () => alive(pid),
      (up) => !up,
      5000,
    );
  });

  it('does not wait for ever on a process that left the group but holds the pipes', async () => {
    const pidFile = join(dir(), 'escaped');
    const started = Date.now();

    const result = await runProcess({
      command: '/bin/sh',
      // The leader waits until the escaped process is in its own session, then exits.
      args: [
        '-c',
        `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 30' & while [ ! -s ${pidFile} ]; do sleep 0.05; done; echo started`,
      ],
      signal: never,
      killGraceMs: 100,
    });
    const escaped = Number(await readFile(pidFile, 'utf8'));
    process.kill(escaped, 'SIGKILL');

    expect(result).toMatchObject({ exitCode: 0, stdout: 'started\n' });
    // Waited out the grace period plus the drain time, then stopped reading.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('hands each stdout line to onStdoutLine', async () => {
    const lines: string[] = [];
    await runProcess({
      command: '/bin/sh',
      args: ['-c', 'printf "one\\n\\ntwo\\r\\nthr"; printf "ee\\n"'],
      signal: never,
      onStdoutLine: (line) => lines.push(line),
    });

    expect(lines).toEqual(['one', 'two', 'three']);
  });
});

describe('Tail', () => {
  it('keeps the last bytes at a character boundary', () => {
    const whole = new Tail(5);
    const cut = new Tail(2);
    for (const tail of [whole, cut]) {
      tail.push(Buffer.from('abc'));
      tail.push(Buffer.from('déf'));
    }

    // 'é' is two bytes: the last five bytes are 'cdéf', the last two would start inside 'é'.
    expect(whole.text()).toBe('cdéf');
    expect(cut.text()).toBe('f');
    expect(cut.truncated).toBe(true);
  });
});
