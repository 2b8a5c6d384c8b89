import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduleStep } from '../../../core/schemas/schedule.js';
import { CompleteInput } from '../../../core/schemas/worker.js';
import { STEP_OUTPUT_BYTES, stepOutput } from '../../../core/step-output.js';
import { parseWorkerConfig } from '../../../worker/config.js';
import { outputOf } from '../../../worker/outcome.js';
import { createRunners } from '../../../worker/runners/index.js';
import type { RunContext } from '../../../worker/runners/types.js';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const SECRET = `sek_${randomUUID()}`;

describe('outputOf', () => {
  it('keeps both streams whole when they fit', () => {
    expect(outputOf('out\n', 'err\n')).toBe('out\n--- stderr ---\nerr');
    expect(outputOf('', 'err')).toBe('--- stderr ---\nerr');
    expect(outputOf('out', '')).toBe('out');
  });

  it('keeps a short stderr whole and gives stdout the rest, newest text first', () => {
    const out = `${'a'.repeat(100)}${'b'.repeat(100)}`;
    const output = outputOf(out, 'failed', 100);
    expect(bytes(output)).toBe(100);
    expect(output).toBe(`${'b'.repeat(100 - '\n--- stderr ---\nfailed'.length)}\n--- stderr ---\nfailed`);
  });

  it('shares the limit half and half when both are long', () => {
    const output = outputOf('o'.repeat(500), 'e'.repeat(500), 116);
    const [kept, err] = output.split('\n--- stderr ---\n') as [string, string];
    expect(bytes(output)).toBe(116);
    expect([kept.length, err.length]).toEqual([50, 50]);
  });

  it('never splits a character at the cut', () => {
    // Four-byte characters: any cut but every fourth byte falls inside one.
    const output = outputOf('😀'.repeat(100), '€'.repeat(100), 101);
    expect(bytes(output)).toBeLessThanOrEqual(101);
    expect(output).not.toContain('\uFFFD');
    expect(output).toMatch(/^(😀)+\n--- stderr ---\n(€)+$/);
  });
});

describe('a step that prints more than the output holds', () => {
  let dir: string;
  let script: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'output-tail-'));
    script = join(dir, 'chatty.mjs');
    // 40 KB on each stream, multi-byte characters throughout, and the worker's API key variable
    // echoed on every line: the process must not have it, however much of the output is kept.
    await writeFile(
      script,
      `const key = process.env.WORKER_API_KEY ?? 'none';
for (let i = 0; i < 1000; i += 1) process.stdout.write(\`out \${i} é€😀 key=\${key}\\n\`);
process.stdout.write('last stdout line\\n');
for (let i = 0; i < 1000; i += 1) process.stderr.write(\`err \${i} ü€😀 key=\${key}\\n\`);
process.stderr.write('last stderr line\\n');
process.exitCode = 3;
`,
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the newest 16 KB of both streams, without the worker secrets', async () => {
    const config = parseWorkerConfig({ apiUrl: 'https://unused/api/v1', workerId: 'tail-worker' });
    const runners = createRunners(config, { ...process.env, WORKER_API_KEY: SECRET });
    const step = {
      id: randomUUID(),
      stepIndex: 0,
      name: 'Chatty',
      stepType: 'Executable',
      executionMode: 'Sequential',
      continueOnFailure: false,
      timeoutSeconds: 60,
      workerPool: 'default',
      executablePath: process.execPath,
      arguments: `"${script}"`,
    } as const satisfies Extract<ScheduleStep, { stepType: 'Executable' }>;
    const context: RunContext = {
      signal: new AbortController().signal,
      reason: () => undefined,
      taskId: randomUUID(),
    };

    const outcome = await runners.Executable.run(step, context);

    expect(outcome.activityStatus).toBe('FailedWithError');
    const output = outcome.output ?? '';
    // A 16 KB tail, not the 4 KB of each stream it used to be.
    expect(bytes(output)).toBeLessThanOrEqual(STEP_OUTPUT_BYTES);
    expect(bytes(output)).toBeGreaterThan(STEP_OUTPUT_BYTES - 100);
    expect(output).not.toContain('\uFFFD');
    const [out, err] = output.split('\n--- stderr ---\n') as [string, string];
    expect(out.endsWith('out 999 é€😀 key=none\nlast stdout line')).toBe(true);
    expect(err.endsWith('err 999 ü€😀 key=none\nlast stderr line')).toBe(true);
    expect(bytes(out)).toBeGreaterThan(STEP_OUTPUT_BYTES / 2 - 100);
    expect(bytes(err)).toBeGreaterThan(STEP_OUTPUT_BYTES / 2 - 100);
    expect(`${output}${outcome.errorMessage}`).not.toContain(SECRET);
    // What the complete endpoint accepts, and what the service keeps: all of it.
    expect(CompleteInput.safeParse({ activityStatus: outcome.activityStatus, output }).success).toBe(true);
    expect(stepOutput(output)).toBe(output);
  });
});
