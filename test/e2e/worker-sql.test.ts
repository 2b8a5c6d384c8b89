import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type TaskEnd, WorkerAgent } from '../../worker/agent.js';
import { parseWorkerConfig } from '../../worker/config.js';
import { createLogger } from '../../worker/log.js';
import { eventually } from '../helpers/eventually.js';
import { type ApiClient, apiClient, QUICK_WORKER_STACK, startTestStack } from '../helpers/local-api.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * SqlScript steps end to end: the local stack, the real worker agent in-process (one agent, on a pool of
 * this file's own), and a real PostgreSQL started for this file. The connection string reaches the agent
 * only through its `env` (variable named by the worker configuration), as in production.
 */

const POOL = `sql-e2e-${process.pid}`;
const CONNECTION_ENV = 'E2E_REPORTING_DB_URL';

let stack: LocalStack;
let postgres: TestPostgres;
let admin: ApiClient;
let dir: string;
let agent: WorkerAgent | undefined;
const ends: TaskEnd[] = [];
let counter = 0;

const query = async (sql: string) => {
  const client = new Client({ connectionString: postgres.connectionString });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
};

beforeAll(async () => {
  [stack, postgres] = await Promise.all([startTestStack(QUICK_WORKER_STACK), startPostgres()]);
  admin = apiClient(stack);
  const key = await admin.post('/api-keys', { name: 'e2e-worker-sql', roles: ['Worker'] });
  expect(key.status).toBe(201);
  dir = await realpath(await mkdtemp(join(tmpdir(), 'worker-sql-e2e-')));
  const config = parseWorkerConfig(
    {
      apiUrl: stack.apiUrl,
      workerId: 'e2e-sql-worker',
      pools: [POOL],
      pollWaitSeconds: 1,
      shutdownGraceSeconds: 5,
      killGraceSeconds: 1,
      sqlConnections: { reporting: { kind: 'postgres', connectionStringEnv: CONNECTION_ENV } },
    },
    dir,
  );
  agent = new WorkerAgent({
    config,
    apiKey: key.body.key,
    env: { ...process.env, [CONNECTION_ENV]: postgres.connectionString },
    logger: createLogger({ write: () => {} }),
    onTaskEnd: (end) => ends.push(end),
  });
  agent.start();
});

afterAll(async () => {
  await agent?.stop({ graceSeconds: 0 });
  await Promise.all([stack?.stop(), postgres?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs a one-schedule execution of `steps` on this file's pool and waits for it to end. */
async function runSteps(steps: Record<string, unknown>[]) {
  const schedule = await admin.post('/schedules', {
    name: `Worker SQL e2e ${Math.random().toString(36).slice(2, 10)}`,
    triggerType: 'Manual',
    steps: steps.map((step) => ({ timeoutSeconds: 60, workerPool: POOL, ...step })),
  });
  expect(schedule.status, JSON.stringify(schedule.body)).toBe(201);
  const started = await admin.post(`/schedules/${schedule.body.id}/run`);
  expect(started.status).toBe(202);
  const id = started.body.executionId as string;
  return eventually(
    async () => (await admin.get(`/schedule-executions/${id}`)).body,
    (e) => ['Completed', 'Failed', 'Cancelled'].includes(e.status),
    20_000,
    200,
  );
}

/** Writes `sql` to a script file and runs a one-step schedule on it. */
async function runScript(sql: string, sqlConnection = 'reporting') {
  counter += 1;
  const sqlScriptPath = join(dir, `script-${counter}.sql`);
  await writeFile(sqlScriptPath, sql);
  return runSteps([{ name: `sql ${counter}`, stepType: 'SqlScript', sqlConnection, sqlScriptPath }]);
}

describe('SqlScript steps through the local stack', () => {
  it('runs a script file that creates a table and inserts rows, and commits it', async () => {
    const done = await runScript(
      [
        'CREATE TABLE e2e_report (id int PRIMARY KEY, label text NOT NULL);',
        "INSERT INTO e2e_report VALUES (1, 'one'), (2, 'two');",
        "INSERT INTO e2e_report VALUES (3, 'three');",
        '',
      ].join('\n'),
    );

    expect(done.status).toBe('Completed');
    expect(done.steps[0]).toMatchObject({ status: 'Completed', activityStatus: 'Complete' });
    expect(await query('SELECT id, label FROM e2e_report ORDER BY id')).toEqual([
      { id: 1, label: 'one' },
      { id: 2, label: 'two' },
      { id: 3, label: 'three' },
    ]);
  });

  it('fails a script that errors, with the PostgreSQL message, and commits nothing', async () => {
    const done = await runScript(
      [
        'CREATE TABLE e2e_half (id int);',
        'INSERT INTO e2e_half VALUES (1);',
        'SELECT * FROM e2e_no_such_table;',
        '',
      ].join('\n'),
    );

    expect(done.status).toBe('Failed');
    expect(done.steps[0]).toMatchObject({ status: 'Failed', activityStatus: 'FailedWithError' });
    expect(done.steps[0].errorMessage).toContain('relation "e2e_no_such_table" does not exist');
    expect(done.steps[0].errorMessage).toContain('SQLSTATE 42P01');
    expect(done.steps[0].errorMessage).not.toContain(postgres.connectionString);
    expect(await query("SELECT to_regclass('e2e_half') AS t")).toEqual([{ t: null }]);
  });

  it('fails a step naming an SQL connection the worker does not have', async () => {
    const done = await runScript('SELECT 1;\n', 'warehouse');

    expect(done.status).toBe('Failed');
    expect(done.steps[0].status).toBe('Failed');
    expect(done.steps[0].errorMessage).toBe(
      'SQL connection "warehouse" is not configured on this worker; configured connections: reporting',
    );
    expect(ends).toHaveLength(3);
  });

  it('gives the SQL runner its connection string and an Executable step an environment without it', async () => {
    const sqlScriptPath = join(dir, 'secret-check.sql');
    await writeFile(sqlScriptPath, 'CREATE TABLE e2e_secret_check (id int);\n');
    // The whole environment goes to a file: the 16 KB output tail could cut a long one short.
    const envFile = join(dir, 'step-env.json');
    const dumpEnv = join(dir, 'dump-env.mjs');
    await writeFile(
      dumpEnv,
      "import { writeFileSync } from 'node:fs';\nwriteFileSync(process.argv[2], JSON.stringify(process.env));\n",
    );

    const done = await runSteps([
      { name: 'sql with the secret', stepType: 'SqlScript', sqlConnection: 'reporting', sqlScriptPath },
      {
        name: 'dump env',
        stepType: 'Executable',
        executablePath: process.execPath,
        arguments: `"${dumpEnv}" "${envFile}"`,
      },
    ]);

    expect(done.status, JSON.stringify(done.steps)).toBe('Completed');
    expect(await query("SELECT to_regclass('e2e_secret_check') AS t")).toEqual([{ t: 'e2e_secret_check' }]);
    const env = JSON.parse(await readFile(envFile, 'utf8')) as Record<string, string>;
    expect(env.SCHEDULE_STEP_NAME).toBe('dump env');
    expect(Object.keys(env)).not.toContain(CONNECTION_ENV);
    expect(Object.values(env)).not.toContain(postgres.connectionString);
  });
});
