import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type TaskEnd, WorkerAgent } from '../../worker/agent.js';
import { loadWorkerConfig, parseWorkerConfig, type WorkerConfig } from '../../worker/config.js';
import { createLogger } from '../../worker/log.js';
import { eventually } from '../helpers/eventually.js';
import { type ApiClient, apiClient, QUICK_WORKER_STACK, startTestStack } from '../helpers/local-api.js';

/**
 * The real worker agent, in-process, against the local stack, running real processes: each scenario
 * starts an agent on a pool of its own, runs a schedule on that pool, and checks what the API reports
 * and what happened on the machine. Short settings: heartbeats every 2 s, one-second long polls.
 */

const EXAMPLES = join(import.meta.dirname, '../../examples');

let stack: LocalStack;
let admin: ApiClient;
let workerKey: string;
let dir: string;
let counter = 0;
const agents: WorkerAgent[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  stack = await startTestStack(QUICK_WORKER_STACK);
  admin = apiClient(stack);
  const key = await admin.post('/api-keys', { name: 'e2e-worker-agent', roles: ['Worker'] });
  expect(key.status).toBe(201);
  workerKey = key.body.key;
  dir = await realpath(await mkdtemp(join(tmpdir(), 'worker-e2e-')));
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop({ graceSeconds: 0 })));
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Harness {
  agent: WorkerAgent;
  pool: string;
  workerId: string;
  ends: TaskEnd[];
  logs: Record<string, unknown>[];
}

/** Starts an agent on a fresh pool; `config` adds to (or replaces) the test defaults. */
function startAgent(
  config: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
  base?: WorkerConfig,
): Harness {
  counter += 1;
  const pool = `agent-${counter}`;
  const workerId = `e2e-worker-${counter}`;
  const settings = {
    workerId,
    pools: [pool],
    pollWaitSeconds: 1,
    shutdownGraceSeconds: 5,
    killGraceSeconds: 1,
  };
  const parsed = base
    ? { ...base, ...settings, apiUrl: stack.apiUrl }
    : parseWorkerConfig({ apiUrl: stack.apiUrl, ...settings, ...config }, dir);
  const ends: TaskEnd[] = [];
  const logs: Record<string, unknown>[] = [];
  const agent = new WorkerAgent({
    config: parsed,
    apiKey: workerKey,
    env,
    logger: createLogger({ write: (line) => logs.push(JSON.parse(line)) }),
    onTaskEnd: (end) => ends.push(end),
  });
  agents.push(agent);
  agent.start();
  return { agent, pool, workerId, ends, logs };
}

/** Creates a manual schedule of `steps` on `pool` and runs it; returns the execution id. */
async function run(pool: string, steps: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  const schedule = await admin.post('/schedules', {
    name: `Worker e2e ${counter} ${Math.random().toString(36).slice(2, 8)}`,
    triggerType: 'Manual',
    ...extra,
    steps: steps.map((step, i) => ({ name: `step ${i}`, timeoutSeconds: 60, ...step, workerPool: pool })),
  });
  expect(schedule.status, JSON.stringify(schedule.body)).toBe(201);
  const started = await admin.post(`/schedules/${schedule.body.id}/run`);
  expect(started.status).toBe(202);
  return started.body.executionId as string;
}

const execution = async (id: string) => (await admin.get(`/schedule-executions/${id}`)).body;
const settled = (id: string, ms = 30_000) =>
  eventually(
    () => execution(id),
    (e) => ['Completed', 'Failed', 'Cancelled'].includes(e.status),
    ms,
    200,
  );

/** True while `pid` is a live process (a zombie left for a reaper that never comes counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

const readPids = async (file: string, count: number) =>
  (
    await eventually(
      () => readFile(file, 'utf8').catch(() => ''),
      (text) => text.trim().split('\n').filter(Boolean).length >= count,
      15_000,
    )
  )
    .trim()
    .split('\n')
    .map(Number);

const sh = (script: string, extra: Record<string, unknown> = {}) => ({
  stepType: 'Executable',
  executablePath: '/bin/sh',
  arguments: `-c "${script}"`,
  ...extra,
});

describe('Executable steps', () => {
  it('completes a program that exits 0 and keeps its output', async () => {
    const { pool, ends } = startAgent();

    const done = await settled(await run(pool, [sh('echo hi; exit 0', { name: 'greet' })]));

    expect(done.status).toBe('Completed');
    expect(done.steps[0]).toMatchObject({
      status: 'Completed',
      activityStatus: 'Complete',
      errorMessage: null,
    });
    expect(ends[0]?.outcome.output).toBe('hi');
  });

  it("shows a running step's progress from its heartbeats, and its output once it ends", async () => {
    // Arrange: heartbeats every 2 s; the step prints two lines, works, prints a third.
    const { pool, workerId } = startAgent();
    const id = await run(pool, [sh('echo one; echo two; sleep 4; echo three', { name: 'printer' })]);

    // Act
    const running = await eventually(
      () => execution(id),
      (e) => e.steps[0]?.progressMessage === 'two',
      15_000,
      200,
    );
    const done = await settled(id);

    // Assert
    expect(running.status).toBe('InProgress');
    expect(running.steps[0]).toMatchObject({
      status: 'Processing',
      output: 'one\ntwo\n',
      progressMessage: 'two',
      workerId,
    });
    expect(Date.parse(running.steps[0].lastHeartbeatAt)).toBeGreaterThanOrEqual(
      Date.parse(running.steps[0].startedAt),
    );
    expect(done.steps[0]).toMatchObject({
      status: 'Completed',
      output: 'one\ntwo\nthree',
      progressMessage: 'two',
      workerId,
    });
    expect(done.steps[0].lastHeartbeatAt).toEqual(expect.any(String));
  });

  it('fails a program that exits non-zero, with the tail of stderr', async () => {
    const { pool } = startAgent();

    const done = await settled(await run(pool, [sh("echo 'starting'; echo 'disk full: /var' >&2; exit 3")]));

    expect(done.status).toBe('Failed');
    expect(done.steps[0]).toMatchObject({
      status: 'Failed',
      activityStatus: 'FailedWithError',
      errorMessage: 'Exited with code 3: disk full: /var',
    });
  });

  it('takes the status, activity id and message from a JSON last line', async () => {
    const { pool } = startAgent();
    const result = "{activityStatus:'CompleteWithWarning',activityId:'run-42',message:'2 rows skipped'}";

    const done = await settled(
      await run(pool, [
        {
          stepType: 'Executable',
          executablePath: process.execPath,
          arguments: `-e "console.log('working'); console.log(JSON.stringify(${result}))"`,
        },
      ]),
    );

    expect(done.status).toBe('Completed');
    expect(done.steps[0]).toMatchObject({
      status: 'Completed with Warning',
      activityStatus: 'CompleteWithWarning',
      activityId: 'run-42',
      errorMessage: '2 rows skipped',
    });
  });

  it('runs in the working directory, and fails clearly when it or the program is missing', async () => {
    const { pool, workerId } = startAgent();
    const workdir = join(dir, 'work dir');
    await mkdir(workdir);

    const done = await settled(
      await run(pool, [
        sh('pwd > where.txt', { name: 'in workdir', workingDirectory: workdir, continueOnFailure: true }),
        sh('true', { name: 'no dir', workingDirectory: join(dir, 'absent'), continueOnFailure: true }),
        {
          name: 'no program',
          stepType: 'Executable',
          executablePath: join(dir, 'no-such-tool'),
          continueOnFailure: true,
        },
      ]),
    );

    expect((await readFile(join(workdir, 'where.txt'), 'utf8')).trim()).toBe(workdir);
    expect(done.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['in workdir', 'Completed'],
      ['no dir', 'Failed'],
      ['no program', 'Failed'],
    ]);
    expect(done.steps[1].errorMessage).toBe(
      `Working directory "${join(dir, 'absent')}" does not exist on worker ${workerId}`,
    );
    expect(done.steps[2].errorMessage).toBe(
      `Executable not found on worker ${workerId}: "${join(dir, 'no-such-tool')}" (ENOENT)`,
    );
  });

  it('stops the whole process tree when the execution is cancelled', async () => {
    const { pool, ends } = startAgent();
    const pids = join(dir, 'cancel.pids');
    const executionId = await run(pool, [
      sh(`echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; sleep 30 & echo $! >> ${pids}; wait`),
      sh('true', { name: 'never reached' }),
    ]);
    const tree = await readPids(pids, 3);
    expect(tree.every(alive)).toBe(true);

    const cancelled = await admin.post(`/schedule-executions/${executionId}/cancel`);
    expect(cancelled.status).toBe(200);

    await eventually(
      async () => tree.filter(alive),
      (left) => left.length === 0,
      10_000,
    );
    await eventually(
      async () => ends.length,
      (n) => n === 1,
      10_000,
    );
    expect(ends[0]).toMatchObject({ stopReason: 'cancelled', outcome: { activityStatus: 'Cancelled' } });
    const done = await execution(executionId);
    expect(done.status).toBe('Cancelled');
    expect(done.steps.map((s: any) => s.status)).toEqual(['Cancelled', 'Cancelled']);
  });

  it('stops a step at its timeout and fails it', async () => {
    const { pool, ends } = startAgent();
    const pids = join(dir, 'timeout.pids');
    const started = Date.now();

    const executionId = await run(pool, [sh(`sleep 30 & echo $! > ${pids}; wait`, { timeoutSeconds: 2 })]);
    const [sleeper] = await readPids(pids, 1);
    const done = await settled(executionId);

    expect(done.status).toBe('Failed');
    expect(done.steps[0].status).toBe('Failed');
    expect(done.steps[0].errorMessage).toMatch(/timed out/i);
    await eventually(
      async () => alive(sleeper as number),
      (up) => !up,
      10_000,
    );
    await eventually(
      async () => ends.length,
      (n) => n === 1,
      10_000,
    );
    // Whichever noticed first (the worker's own timer or the service's heartbeat answer), the tree is gone.
    expect(['timeout', 'cancelled']).toContain(ends[0]?.stopReason);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('PowerShell steps', () => {
  it('runs pwsh -NoProfile -NonInteractive -File <script> <arguments>', async () => {
    const bin = join(dir, 'pwsh-bin');
    const argvFile = join(dir, 'pwsh.argv');
    const script = join(dir, 'tidy.ps1');
    await mkdir(bin);
    await writeFile(script, 'Write-Output "tidy"\n');
    // A stand-in pwsh: it records its argv, one per line, and reports like a script would.
    await writeFile(
      join(bin, 'pwsh'),
      `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvFile}'\necho '{"activityStatus":"Complete","activityId":"ps-1"}'\n`,
    );
    await chmod(join(bin, 'pwsh'), 0o755);
    const { pool } = startAgent({}, { ...process.env, PATH: `${bin}:${process.env.PATH}` });

    const done = await settled(
      await run(pool, [
        {
          stepType: 'PowerShell',
          scriptPath: script,
          arguments: `-Days 7 -Label "old logs" -Filter '*.log'`,
        },
      ]),
    );

    expect(done.steps[0]).toMatchObject({ status: 'Completed', activityId: 'ps-1' });
    expect((await readFile(argvFile, 'utf8')).split('\n').slice(0, -1)).toEqual([
      '-NoProfile',
      '-NonInteractive',
      '-File',
      script,
      '-Days',
      '7',
      '-Label',
      'old logs',
      '-Filter',
      '*.log',
    ]);
  });

  it('fails clearly where pwsh is not installed', async () => {
    const empty = join(dir, 'empty-path');
    await mkdir(empty);
    const script = join(dir, 'report.ps1');
    await writeFile(script, 'Write-Output "report"\n');
    const { pool, workerId } = startAgent({}, { ...process.env, PATH: empty });

    const done = await settled(await run(pool, [{ stepType: 'PowerShell', scriptPath: script }]));

    expect(done.steps[0].status).toBe('Failed');
    expect(done.steps[0].errorMessage).toBe(
      `PowerShell (pwsh) is not installed on worker ${workerId}: "pwsh" was not found on PATH. ` +
        'Install PowerShell 7 or set pwshPath in the worker configuration.',
    );
  });
});

describe('RunProfile steps', () => {
  it('runs the example schedule with the example adapter of examples/worker.json', async () => {
    const example = await loadWorkerConfig(join(EXAMPLES, 'worker.json'));
    const { pool } = startAgent({}, { ...process.env, LDAP_SIMULATOR_STEP_MS: '20' }, example);
    const schedule = JSON.parse(await readFile(join(EXAMPLES, 'schedules/daily-delta-sync.json'), 'utf8'));

    const done = await settled(
      await run(pool, schedule.steps, {
        name: `${schedule.name} ${counter}`,
        triggerType: 'Cron',
        cronExpression: schedule.cronExpression,
        isEnabled: false,
      }),
    );

    expect(done.status).toBe('Completed');
    expect(done.steps.map((s: any) => s.status)).toEqual([
      'Completed',
      'Completed',
      'Completed with Warning',
      'Completed',
    ]);
    expect(done.steps[0].activityId).toMatch(/^ldap-1-delta-import-\d+$/);
    expect(done.steps[1].activityId).toMatch(/^ldap-1-delta-sync-\d+$/);
    expect(done.steps[2]).toMatchObject({
      activityId: expect.stringMatching(/^ldap-1-export-\d+$/),
      errorMessage: '2 of 118 exports are awaiting confirmation on the next import',
    });
  });

  it('calls an HTTP adapter and takes its answer; step processes never see the worker secrets', async () => {
    const requests: { headers: IncomingMessage['headers']; body: any }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        requests.push({ headers: req.headers, body: JSON.parse(body) });
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            activityStatus: 'CompleteWithError',
            activityId: 'idm-77',
            message: '3 objects failed',
          }),
        );
      });
    });
    servers.push(server);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/run-profiles`;
    const { pool, ends } = startAgent(
      { connectedSystems: { '5': { name: 'HR', http: { url, tokenEnv: 'HR_TOKEN' } } } },
      { ...process.env, HR_TOKEN: 'hr-secret-token', WORKER_API_KEY: 'worker-secret-key' },
    );

    const executionId = await run(pool, [
      {
        name: 'HR - Full Sync',
        stepType: 'RunProfile',
        connectedSystemId: 5,
        runProfileName: 'Full Sync',
        continueOnFailure: true,
      },
      { name: 'env', stepType: 'Executable', executablePath: '/usr/bin/env' },
    ]);
    const done = await settled(executionId);

    expect(done.steps[0]).toMatchObject({
      status: 'Completed with Error',
      activityStatus: 'CompleteWithError',
      activityId: 'idm-77',
      errorMessage: '3 objects failed',
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.headers.authorization).toBe('Bearer hr-secret-token');
    expect(requests[0]?.body).toEqual({
      connectedSystemId: 5,
      runProfileName: 'Full Sync',
      executionId,
      taskId: done.steps[0].taskId,
    });
    const env = ends.find((end) => end.task.step.name === 'env')?.outcome.output ?? '';
    expect(env).toContain(`SCHEDULE_TASK_ID=${done.steps[1].taskId}`);
    expect(env).not.toContain('hr-secret-token');
    expect(env).not.toContain('worker-secret-key');
  });

  it('fails a step whose connected system has no adapter on the worker, naming it', async () => {
    const { pool, workerId } = startAgent({
      connectedSystems: { '1': { name: 'Corporate LDAP', command: ['true'] } },
    });

    const done = await settled(
      await run(pool, [{ stepType: 'RunProfile', connectedSystemId: 99, runProfileName: 'Delta Import' }]),
    );

    expect(done.steps[0].status).toBe('Failed');
    expect(done.steps[0].errorMessage).toBe(
      `Connected system 99 is not configured on worker ${workerId} (run profile "Delta Import"); configured: 1 (Corporate LDAP)`,
    );
  });
});

describe('the agent', () => {
  it('runs the steps of a stage at the same time, up to its concurrency', async () => {
    const { pool, ends } = startAgent({ concurrency: 2 });
    const meet = join(dir, 'meet');
    await mkdir(meet);
    // Each step waits (up to 10 s) for the other's flag: both complete only if they run together.
    const rendezvous = (me: string, other: string) =>
      sh(
        `touch ${me}; i=0; while [ ! -f ${other} ]; do sleep 0.1; i=$((i+1)); [ $i -gt 100 ] && exit 1; done; sleep 0.5`,
        {
          name: me,
          workingDirectory: meet,
        },
      );

    const done = await settled(
      await run(pool, [
        rendezvous('a', 'b'),
        { ...rendezvous('b', 'a'), executionMode: 'ParallelWithPrevious' },
      ]),
    );

    expect(done.steps.map((s: any) => s.status)).toEqual(['Completed', 'Completed']);
    const [first, second] = ends;
    expect(first && second).toBeTruthy();
    if (!first || !second) return;
    expect(first.startedAt.getTime()).toBeLessThan(second.endedAt.getTime());
    expect(second.startedAt.getTime()).toBeLessThan(first.endedAt.getTime());
  });

  it('lets a running step finish on stop(), then claims nothing more', async () => {
    const { agent, pool, ends } = startAgent({ shutdownGraceSeconds: 20 });
    const executionId = await run(pool, [
      sh('sleep 1.5; echo finished', { name: 'held' }),
      sh('true', { name: 'next stage' }),
    ]);
    await eventually(
      async () => agent.runningTasks,
      (n) => n === 1,
    );

    await agent.stop();

    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({
      stopReason: undefined,
      accepted: true,
      outcome: { activityStatus: 'Complete' },
    });
    expect(agent.runningTasks).toBe(0);
    const during = await eventually(
      () => execution(executionId),
      (e) => e.steps[1].status === 'Queued',
    );
    expect(during.steps[0].status).toBe('Completed');
    await admin.post(`/schedule-executions/${executionId}/cancel`);
  });

  it('stops a step still running when the shutdown grace period ends and reports it Cancelled', async () => {
    const { agent, pool, ends } = startAgent({ shutdownGraceSeconds: 1 });
    const pids = join(dir, 'shutdown.pids');
    const executionId = await run(pool, [sh(`sleep 30 & echo $! > ${pids}; wait`)]);
    const [sleeper] = await readPids(pids, 1);
    const stopping = Date.now();

    await agent.stop();

    expect(Date.now() - stopping).toBeLessThan(8000);
    expect(alive(sleeper as number)).toBe(false);
    expect(ends[0]).toMatchObject({
      stopReason: 'shutdown',
      accepted: true,
      outcome: { activityStatus: 'Cancelled', errorMessage: expect.stringMatching(/^worker shutting down/) },
    });
    const done = await settled(executionId);
    expect(done.steps[0]).toMatchObject({
      status: 'Cancelled',
      errorMessage: expect.stringMatching(/^worker shutting down/),
    });
  });
});
