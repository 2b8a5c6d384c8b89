import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { CONSOLE_DIST } from '../local/console-site.js';
import { CHROMIUM, CHROMIUM_LAUNCH, chromiumAvailable } from '../test/helpers/chromium.js';
import { log, percentile, table } from './measure.js';

/**
 * The operator console's first render (`BENCH_ONLY=console`): one `npm start` (in memory, with
 * BENCH_CONSOLE_SCHEDULES schedules, default 20, so the list has rows), then BENCH_CONSOLE_RUNS (5)
 * cold loads, each in a fresh Chromium context (no cache, no session), as the browser test drives
 * it: navigation → the sign-in form, and sign-in → the schedules list drawn. Also the built
 * bundle's size, raw and gzipped, which is what a first visit downloads.
 */

const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 5);
const SCHEDULES = Number(process.env.BENCH_CONSOLE_SCHEDULES ?? 20);
const ADMIN_KEY = `sek_bench${'0'.repeat(32)}`;

/** `npm start` until it prints the console's address; the child and that address. */
function startService(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      LOCAL_IN_MEMORY: 'true',
      LOCAL_CRON: 'false',
      LOCAL_ADMIN_API_KEY: ADMIN_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = output.match(/operator console: (http:\/\/localhost:\d+\/)/)?.[1];
      // The curl hint comes once the API is up, after the console line.
      if (url && output.includes('try: curl')) {
        child.stdout?.off('data', onData);
        resolve({ child, url });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`npm start exited (${code}) before it was up:\n${output}`)),
    );
  });
}

async function seed(apiUrl: string) {
  for (let n = 1; n <= SCHEDULES; n++) {
    const response = await fetch(`${apiUrl}/schedules`, {
      method: 'POST',
      headers: { 'X-Api-Key': ADMIN_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: `Bench schedule ${n}`,
        triggerType: 'Cron',
        cronExpression: `${n % 60} 6 * * MON-FRI`,
        steps: [{ name: 'Export', stepType: 'Executable', executablePath: '/bin/true' }],
      }),
    });
    if (response.status !== 201) throw new Error(`seeding: ${response.status} ${await response.text()}`);
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const ms = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return [
    `${percentile(sorted, 0.5).toFixed(0)} ms`,
    `${sorted[0]?.toFixed(0)}–${sorted.at(-1)?.toFixed(0)} ms`,
  ];
};

export async function runConsoleBench(): Promise<boolean> {
  if (!chromiumAvailable()) {
    log(`Console first render: skipped, ${CHROMIUM} not found (apt-get install chromium).`);
    return true;
  }
  log(
    `Console first render: ${RUNS} cold loads in fresh Chromium contexts against one npm start with ${SCHEDULES} schedules (median, min–max; a shared machine skews timings)`,
  );
  const { child, url } = await startService();
  const exited = new Promise((done) => child.once('exit', done));
  const browser = await chromium.launch(CHROMIUM_LAUNCH);
  try {
    await seed(`${url}api/v1`);
    const toForm: number[] = [];
    const toList: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const opened = performance.now();
      await page.goto(url);
      await page.getByLabel('API key').waitFor();
      toForm.push(performance.now() - opened);
      await page.getByLabel('API key').fill(ADMIN_KEY);
      const signedIn = performance.now();
      await page.getByRole('button', { name: 'Sign in with API key' }).click();
      await page.getByRole('link', { name: `Bench schedule ${SCHEDULES}` }).waitFor();
      toList.push(performance.now() - signedIn);
      await context.close();
    }
    // What a first visit downloads: the page and its assets (config.json is a few bytes).
    const files = [
      join(CONSOLE_DIST, 'index.html'),
      ...readdirSync(join(CONSOLE_DIST, 'assets')).map((name) => join(CONSOLE_DIST, 'assets', name)),
    ];
    const bytes = files.map((file) => readFileSync(file));
    const raw = bytes.reduce((total, body) => total + body.length, 0);
    const gzipped = bytes.reduce((total, body) => total + gzipSync(body, { level: 9 }).length, 0);
    table(
      ['Measure', 'median', 'range'],
      [
        ['navigation → sign-in form', ...ms(toForm)],
        ['sign-in → schedules list drawn', ...ms(toList)],
      ],
      (column) => column > 0,
    );
    log(`  bundle (${files.length} files: index.html, JS, CSS): ${kb(raw)}, ${kb(gzipped)} gzipped`);
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    await exited;
  }
  return true;
}
