import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SqlScriptRunner, type SqlScriptStep, sqlApplicationName } from '../../worker/runners/sql.js';
import type { RunContext, StepOutcome } from '../../worker/runners/types.js';
import { eventually } from '../helpers/eventually.js';

/** A test's handle on one run: the context to pass, and how to abort it with a reason. */
function runContext() {
  const controller = new AbortController();
  let reason: ReturnType<RunContext['reason']>;
  const taskId = randomUUID();
  const context: RunContext = { signal: controller.signal, reason: () => reason, taskId };
  return {
    context,
    taskId,
    abort(why: NonNullable<typeof reason>) {
      reason = why;
      controller.abort();
    },
  };
}

describe('SqlScriptRunner', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `sqlrunner_${suffix}`;
  const role = `sqlrunner_${suffix}`;
  // Characters that must be percent-encoded in a URL, so redaction of the decoded form is exercised too.
  const password = `Pw:${randomBytes(6).toString('hex')}/@#`;
  let admin: Client;
  let scriptDir: string;
  let runnerUrl: string;
  let runner: SqlScriptRunner;

  beforeAll(async () => {
    const serverUrl = new URL(inject('postgresUrl'));
    const server = new Client({ connectionString: serverUrl.href });
    await server.connect();
    try {
      await server.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await server.query(`CREATE DATABASE ${database} OWNER ${role}`);
    } finally {
      await server.end();
    }
    const adminUrl = new URL(serverUrl);
    adminUrl.pathname = `/${database}`;
    admin = new Client({ connectionString: adminUrl.href });
    await admin.connect();

    const url = new URL(adminUrl);
    url.username = role;
    url.password = encodeURIComponent(password);
    runnerUrl = url.href;
    runner = new SqlScriptRunner({ main: { connectionStringEnv: 'SQL_MAIN' } }, { SQL_MAIN: runnerUrl });
    scriptDir = await mkdtemp(join(tmpdir(), 'sql-runner-'));
  });

  afterAll(async () => {
    await admin?.end();
    const server = new Client({ connectionString: inject('postgresUrl') });
    await server.connect();
    try {
      await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await server.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await server.end();
    }
    if (scriptDir) await rm(scriptDir, { recursive: true, force: true });
  });

  function sqlStep(sqlScriptPath: string, overrides: Partial<SqlScriptStep> = {}): SqlScriptStep {
    return {
      id: randomUUID(),
      stepIndex: 0,
      name: 'SQL step',
      executionMode: 'Sequential',
      continueOnFailure: false,
      timeoutSeconds: 60,
      workerPool: 'default',
      stepType: 'SqlScript',
      sqlConnection: 'main',
      sqlScriptPath,
      ...overrides,
    };
  }

  async function scriptFile(sql: string): Promise<string> {
    const path = join(scriptDir, `${randomUUID()}.sql`);
    await writeFile(path, sql);
    return path;
  }

  /** Every outcome is checked for the password and the connection string, raw and encoded. */
  function expectNoSecrets(outcome: StepOutcome): void {
    const text = JSON.stringify(outcome);
    for (const secret of [password, encodeURIComponent(password), runnerUrl]) {
      expect(text).not.toContain(secret);
    }
  }

  async function runSql(
    sql: string,
    overrides: Partial<SqlScriptStep> = {},
    run = runContext(),
  ): Promise<StepOutcome> {
    const outcome = await runner.run(sqlStep(await scriptFile(sql), overrides), run.context);
    expectNoSecrets(outcome);
    return outcome;
  }

  const tableExists = async (table: string): Promise<boolean> =>
    (await admin.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [table])).rows[0]
      ?.found !== null;

  const sessionsOf = async (taskId: string) =>
    (
      await admin.query<{ state: string; query: string }>(
        'SELECT state, query FROM pg_stat_activity WHERE application_name = $1',
        [sqlApplicationName(taskId)],
      )
    ).rows;
  /** Waits (polling every 50 ms, up to `ms`) until the task's sessions are as `wanted` says. */
  const sessionsUntil = (
    taskId: string,
    wanted: (sessions: Awaited<ReturnType<typeof sessionsOf>>) => boolean,
    ms: number,
  ) => eventually(() => sessionsOf(taskId), wanted, ms, 50);

  it('commits a script that creates a table and inserts rows', async () => {
    // Arrange
    const sql = `
      CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO people VALUES (1, 'Ada'), (2, 'Grace');
      INSERT INTO people VALUES (3, 'Edsger');
    `;

    // Act
    const outcome = await runSql(sql);

    // Assert
    expect(outcome).toMatchObject({ activityStatus: 'Complete' });
    expect(outcome.output).toMatch(
      /^Committed 3 statements in [\d.]+ s \(CREATE 1, INSERT 2\); 3 rows affected\./,
    );
    const { rows } = await admin.query('SELECT name FROM people ORDER BY id');
    expect(rows.map((row) => row.name)).toEqual(['Ada', 'Grace', 'Edsger']);
  });

  it('rolls back everything and reports the PostgreSQL error when a statement in the middle fails', async () => {
    // Arrange
    const sql = [
      'CREATE TABLE half_done (id int);',
      'INSERT INTO half_done VALUES (1);',
      'SELECT * FROM missing_table;',
      'INSERT INTO half_done VALUES (2);',
    ].join('\n');

    // Act
    const outcome = await runSql(sql);

    // Assert
    expect(outcome.activityStatus).toBe('FailedWithError');
    expect(outcome.errorMessage).toContain('relation "missing_table" does not exist');
    expect(outcome.errorMessage).toContain('line 3');
    expect(outcome.errorMessage).toContain('SQLSTATE 42P01');
    expect(outcome.errorMessage).toContain('nothing was committed');
    expect(await tableExists('half_done')).toBe(false);
  });

  it.each([
    ['RAISE WARNING', "DO $$ BEGIN RAISE WARNING 'disk nearly full'; END $$;", 'disk nearly full'],
    [
      'a NOTICE starting with WARNING',
      "DO $$ BEGIN RAISE NOTICE 'WARNING: 3 rows skipped'; END $$;",
      '3 rows skipped',
    ],
    [
      'the script ending the transaction itself',
      'CREATE TABLE self_committed (id int);\nCOMMIT;',
      'no transaction',
    ],
  ])('completes with a warning on %s', async (_case, sql, text) => {
    // Act
    const outcome = await runSql(sql);

    // Assert
    expect(outcome.activityStatus).toBe('CompleteWithWarning');
    expect(outcome.errorMessage).toContain(text);
    expect(outcome.output).toContain(text);
  });

  it('completes (no warning) with a plain notice, and shows it in the output', async () => {
    // Act
    const outcome = await runSql("DO $$ BEGIN RAISE NOTICE 'migrated % rows', 42; END $$;");

    // Assert
    expect(outcome.activityStatus).toBe('Complete');
    expect(outcome.output).toContain('NOTICE: migrated 42 rows');
  });

  it('fails naming the connection, and listing the configured ones, when the name is unknown', async () => {
    // Act
    const outcome = await runSql('SELECT 1;', { sqlConnection: 'reporting' });

    // Assert
    expect(outcome.activityStatus).toBe('FailedWithError');
    expect(outcome.errorMessage).toContain('"reporting"');
    expect(outcome.errorMessage).toContain('configured connections: main');
  });

  it('fails naming the environment variable when it is not set', async () => {
    // Arrange
    const unset = new SqlScriptRunner({ main: { connectionStringEnv: 'SQL_MAIN' } }, {});

    // Act
    const outcome = await unset.run(sqlStep(await scriptFile('SELECT 1;')), runContext().context);

    // Assert
    expect(outcome.activityStatus).toBe('FailedWithError');
    expect(outcome.errorMessage).toContain('SQL_MAIN');
    expect(outcome.errorMessage).toContain('is not set');
    expectNoSecrets(outcome);
  });

  it('fails naming the path when the script file cannot be read', async () => {
    // Arrange
    const missing = join(scriptDir, 'no-such-script.sql');

    // Act
    const outcome = await runner.run(sqlStep(missing), runContext().context);

    // Assert
    expect(outcome.activityStatus).toBe('FailedWithError');
    expect(outcome.errorMessage).toContain(missing);
    expect(outcome.errorMessage).toContain('ENOENT');
  });

  it.each([
    ['a wrong password', (url: URL) => Object.assign(url, { password: encodeURIComponent(`${password}x`) })],
    ['an unreachable port', (url: URL) => Object.assign(url, { port: '1' })],
  ])('fails without leaking the password on %s', async (_case, change) => {
    // Arrange
    const badUrl = change(new URL(runnerUrl)).href;
    const bad = new SqlScriptRunner({ main: { connectionStringEnv: 'SQL_MAIN' } }, { SQL_MAIN: badUrl });

    // Act
    const outcome = await bad.run(sqlStep(await scriptFile('SELECT 1;')), runContext().context);

    // Assert
    expect(outcome.activityStatus).toBe('FailedWithError');
    expect(outcome.errorMessage).toContain('Could not connect to SQL connection "main"');
    expectNoSecrets(outcome);
    expect(JSON.stringify(outcome)).not.toContain(badUrl);
    expect(JSON.stringify(outcome)).not.toContain(`${password}x`);
  });

  /** Every fragment the cut could keep of a password starting at `k` characters before it: `…` follows it. */
  const cutFragments = () =>
    Array.from({ length: password.length - 1 }, (_, k) => `${password.slice(0, k + 1)}…`);

  it('redacts a password in a notice before cutting the line, wherever the cut falls in it', async () => {
    // Arrange: a notice line is cut at 300 characters ("NOTICE: " + message); one notice for each
    // place the cut can fall inside the password.
    const lineOf = (kept: number) => `${'x'.repeat(299 - 'NOTICE: '.length - kept)}${password}`;
    const sql = `DO $$ BEGIN ${cutFragments()
      .map((_, k) => `RAISE NOTICE '${lineOf(k + 1)}';`)
      .join(' ')} END $$;`;

    // Act
    const outcome = await runSql(sql);

    // Assert
    expect(outcome.output).toContain('NOTICE: xxx');
    for (const fragment of cutFragments()) expect(outcome.output).not.toContain(fragment);
  });

  it('redacts a password in an error message before cutting it, wherever the cut falls in it', async () => {
    // Arrange: where the driver's message starts in the error message (it is cut at 2,000 characters).
    const raise = (message: string) => `DO $$ BEGIN RAISE EXCEPTION '${message}'; END $$;`;
    const probe = await runSql(raise('MARKER'));
    const start = probe.errorMessage?.indexOf('MARKER') ?? -1;
    expect(start).toBeGreaterThan(0);

    for (const [k, fragment] of cutFragments().entries()) {
      // Act
      const outcome = await runSql(raise(`${'x'.repeat(1999 - start - (k + 1))}${password}`));

      // Assert
      expect(outcome.errorMessage).toHaveLength(2000);
      expect(outcome.errorMessage).not.toContain(fragment);
    }
  });

  it.each([
    ['cancelled', 'Cancelled', /cancelled/],
    ['shutdown', 'Cancelled', /shutting down/],
    ['timeout', 'FailedWithError', /timed out after 60 s/],
  ] as const)('stops a running statement at once when aborted (%s)', async (reason, status, message) => {
    // Arrange
    const table = `aborted_${reason}`;
    const run = runContext();
    const pending = runSql(`CREATE TABLE ${table} (id int);\nSELECT pg_sleep(30);`, {}, run);
    await sessionsUntil(
      run.taskId,
      (sessions) =>
        sessions.some((session) => session.state === 'active' && session.query.includes('pg_sleep')),
      10_000,
    );

    // Act
    const abortedAt = Date.now();
    run.abort(reason);
    const outcome = await pending;
    const took = Date.now() - abortedAt;

    // Assert
    expect(outcome.activityStatus).toBe(status);
    expect(outcome.errorMessage).toMatch(message);
    expect(took).toBeLessThan(2000);
    await sessionsUntil(run.taskId, (sessions) => sessions.length === 0, 5000);
    expect(await tableExists(table)).toBe(false);
  });

  it('terminates the backend when the script swallows the cancel', async () => {
    // Arrange: a loop that catches query_canceled and sleeps again, so only pg_terminate_backend stops it.
    const run = runContext();
    const sql = `CREATE TABLE stubborn (id int);
      DO $$ BEGIN
        LOOP
          BEGIN PERFORM pg_sleep(30); EXCEPTION WHEN query_canceled THEN NULL; END;
        END LOOP;
      END $$;`;
    const pending = runSql(sql, {}, run);
    await sessionsUntil(
      run.taskId,
      (sessions) => sessions.some((session) => session.state === 'active'),
      10_000,
    );

    // Act
    const abortedAt = Date.now();
    run.abort('cancelled');
    const outcome = await pending;
    const took = Date.now() - abortedAt;

    // Assert: the cancel grace (3 s) then termination
    expect(outcome.activityStatus).toBe('Cancelled');
    expect(took).toBeLessThan(6000);
    await sessionsUntil(run.taskId, (sessions) => sessions.length === 0, 5000);
    expect(await tableExists('stubborn')).toBe(false);
  });

  it('reports Cancelled without connecting when the signal is already aborted', async () => {
    // Arrange
    const run = runContext();
    run.abort('cancelled');

    // Act
    const outcome = await runSql('CREATE TABLE never_made (id int);', {}, run);

    // Assert
    expect(outcome.activityStatus).toBe('Cancelled');
    expect(await tableExists('never_made')).toBe(false);
  });

  it('fails as timed out when statement_timeout (the backstop) stops the script', async () => {
    // Act
    const outcome = await runSql('CREATE TABLE too_slow (id int);\nSELECT pg_sleep(5);', {
      timeoutSeconds: 1,
    });

    // Assert
    expect(outcome.activityStatus).toBe('FailedWithError');
    expect(outcome.errorMessage).toMatch(/timed out after 1 s \(statement_timeout\)/);
    expect(await tableExists('too_slow')).toBe(false);
  });
});
