import { readFile } from 'node:fs/promises';
import { Client, DatabaseError } from 'pg';
import { ActivityStatus, type StepType } from '../../core/model.js';
import type { ScheduleStep } from '../../core/schemas/schedule.js';
import type { RunContext, StepOutcome, StepRunner } from './types.js';

/** A `SqlScript` step as stored in a schedule. */
export type SqlScriptStep = Extract<ScheduleStep, { stepType: typeof StepType.SqlScript }>;

/** One named SQL connection configured on the worker. The service only ever sees the name. */
export interface SqlConnectionConfig {
  /** Name of the environment variable holding the PostgreSQL connection string (a `postgres://` URL). */
  readonly connectionStringEnv: string;
}

/** Notice lines kept for the output (the last ones), and the length each is cut to. */
const MAX_NOTICES = 20;
const MAX_LINE = 300;
const MAX_MESSAGE = 2000;
/** How long a cancelled statement may take to stop before its backend is terminated. */
const CANCEL_GRACE_MS = 3000;
const CONNECT_TIMEOUT_MS = 30_000;
/** Bound on the side connection that cancels or terminates the script's backend. */
const CONTROL_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 2000;
/** `application_name` of the side connection, so it is never mistaken for the script's session. */
const CONTROL_APPLICATION_NAME = 'schedule-worker-control';
/** Commands whose row count is "rows affected" (a SELECT's count is rows returned, not changed). */
const WRITING_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

/**
 * The `application_name` of the session that runs a task's script, so a DBA (and the tests) can find it in
 * `pg_stat_activity`. PostgreSQL keeps 63 printable ASCII characters.
 */
export const sqlApplicationName = (taskId: string): string =>
  `schedule-worker:${taskId}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 63);

/** The parts of a PostgreSQL notice the warning rule looks at. */
export interface SqlNotice {
  severity?: string | undefined;
  code?: string | undefined;
  message?: string | undefined;
}

/**
 * The warning convention. A script that commits ends `CompleteWithWarning` when PostgreSQL sent at least one
 * notice that is a warning, otherwise `Complete`. A notice is a warning when either
 * - PostgreSQL raised it at level WARNING: `RAISE WARNING '…'` in PL/pgSQL, or a server warning such as
 *   "there is no transaction in progress" (severity `WARNING`, or SQLSTATE class `01` for a server whose
 *   messages are localised), or
 * - its text starts with the word `WARNING` (any case), e.g. `RAISE NOTICE 'WARNING: 3 rows skipped'`.
 * Any error rolls the whole script back and ends `FailedWithError`; `CompleteWithError` is never reported.
 */
export const isWarningNotice = (notice: SqlNotice): boolean =>
  notice.severity === 'WARNING' ||
  (notice.code?.startsWith('01') ?? false) ||
  /^\s*warning\b/i.test(notice.message ?? '');

/**
 * Runs a `SqlScript` step: the file at `sqlScriptPath` is sent to PostgreSQL as one simple query inside
 * `BEGIN … COMMIT`, so it commits entirely or not at all (ROLLBACK on any error, cancel or timeout). The
 * script must not manage transactions itself (its own COMMIT or BEGIN draws a PostgreSQL warning, so the
 * step ends `CompleteWithWarning`) nor use statements that cannot run in a transaction block (VACUUM,
 * CREATE DATABASE). Rows a SELECT returns are discarded, but the driver buffers them: scripts should change
 * data, not read large tables.
 *
 * The connection string comes from the environment variable named by the worker's configuration for
 * `sqlConnection`; it, and the password in it, never appear in an outcome (driver messages are redacted).
 * On abort the running statement is cancelled with `pg_cancel_backend` from a second connection (and the
 * backend terminated if it has not stopped 3 s later). `statement_timeout` is set to
 * the step's `timeoutSeconds` as a backstop for a worker that loses track of time.
 */
export class SqlScriptRunner implements StepRunner<SqlScriptStep> {
  constructor(
    private readonly connections: Readonly<Record<string, SqlConnectionConfig>>,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async run(step: SqlScriptStep, context: RunContext): Promise<StepOutcome> {
    const name = step.sqlConnection;
    const connection = Object.hasOwn(this.connections, name) ? this.connections[name] : undefined;
    if (!connection) {
      const configured = Object.keys(this.connections);
      return failed(
        `SQL connection "${name}" is not configured on this worker; configured connections: ${
          configured.length > 0 ? configured.join(', ') : '(none)'
        }`,
      );
    }
    const connectionString = this.env[connection.connectionStringEnv];
    if (!connectionString) {
      return failed(
        `SQL connection "${name}": environment variable ${connection.connectionStringEnv} is not set ` +
          '(it must hold the PostgreSQL connection string)',
      );
    }

    let script: string;
    try {
      script = await readFile(step.sqlScriptPath, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? messageOf(error);
      return failed(`Cannot read SQL script file "${step.sqlScriptPath}": ${reason}`);
    }

    const redact = redactor(connectionString);
    const outcome = await new ScriptSession(step, context, connectionString, redact).run(script);
    return {
      ...outcome,
      ...(outcome.errorMessage === undefined ? {} : { errorMessage: redact(outcome.errorMessage) }),
      ...(outcome.output === undefined ? {} : { output: redact(outcome.output) }),
    };
  }
}

/** One run of one script: a connection, its transaction, its notices, and how to stop it. */
class ScriptSession {
  private readonly client: Client;
  private readonly applicationName: string;
  private readonly notices: string[] = [];
  private noticeCount = 0;
  private lastWarning: string | undefined;
  private warningCount = 0;
  /** Backend process id of the session, known once connected. */
  private pid: number | undefined;
  /** Settles when the statement on the wire does (never rejects). */
  private inFlight: Promise<void> = Promise.resolve();
  /** Set by the abort handler; awaited before anything else is sent. */
  private stopping: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly step: SqlScriptStep,
    private readonly context: RunContext,
    private readonly connectionString: string,
    /** Applied before any cut (see `clip`); `run` applies it again to the whole outcome. */
    private readonly redact: (text: string) => string,
  ) {
    this.applicationName = sqlApplicationName(context.taskId);
    this.client = new Client({
      connectionString,
      application_name: this.applicationName,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    // An unexpected disconnect is reported through the failing query; without a listener it would crash.
    this.client.on('error', () => {});
    this.client.on('notice', (notice) => this.record(notice));
  }

  async run(script: string): Promise<StepOutcome> {
    const { signal } = this.context;
    if (signal.aborted) return this.stopped();
    const onAbort = () => {
      this.stopping ??= this.stopBackend();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.transaction(script);
    } finally {
      signal.removeEventListener('abort', onAbort);
      await this.stopping;
      await this.close();
    }
  }

  private async transaction(script: string): Promise<StepOutcome> {
    const { signal } = this.context;
    try {
      await this.connect();
    } catch (error) {
      if (signal.aborted) return this.stopped();
      return failed(`Could not connect to SQL connection "${this.step.sqlConnection}": ${messageOf(error)}`);
    }

    let results: unknown;
    try {
      await this.query('BEGIN');
      // No parameters: the simple query protocol, which accepts many statements in one string.
      results = await this.query(script);
    } catch (error) {
      await this.rollback();
      if (signal.aborted) return this.stopped();
      return this.failure(error, script);
    }
    if (signal.aborted) {
      await this.rollback();
      return this.stopped();
    }
    try {
      await this.query('COMMIT');
    } catch (error) {
      // A failed COMMIT (e.g. a deferred constraint) has already rolled the transaction back.
      if (signal.aborted) return this.stopped();
      return this.failure(error, undefined);
    }
    return this.success(results);
  }

  private async connect(): Promise<void> {
    const connecting = this.client.connect();
    // Ending a client mid-connect leaves its promise pending; the race lets an abort return at once.
    await Promise.race([connecting, rejectOnAbort(this.context.signal)]);
    const { rows } = await this.query<{ pid: number }>(
      "SELECT pg_backend_pid() AS pid, set_config('application_name', $1, false), set_config('statement_timeout', $2, false)",
      [this.applicationName, String(this.step.timeoutSeconds * 1000)],
    );
    this.pid = rows[0]?.pid;
  }

  private query<R extends Record<string, unknown>>(text: string, values?: unknown[]) {
    // Once aborted, only ROLLBACK may go out: a cancel cannot reach a statement sent after it.
    if (this.context.signal.aborted && text !== 'ROLLBACK') return Promise.reject(new Error('aborted'));
    const result = this.client.query<R>(text, values);
    this.inFlight = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async rollback(): Promise<void> {
    await this.stopping;
    try {
      await this.query('ROLLBACK');
    } catch {
      // The session is gone (terminated or lost): PostgreSQL rolls back an open transaction on disconnect.
    }
  }

  private async close(): Promise<void> {
    await withDeadline(
      this.client.end().catch(() => undefined),
      CLOSE_TIMEOUT_MS,
    );
  }

  /** Cancel the running statement; terminate the backend if it does not stop; close the socket as a last resort. */
  private async stopBackend(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) {
      // Still connecting: nothing runs on the server yet.
      await this.close();
      return;
    }
    const running = this.inFlight;
    if (await this.signalBackend('pg_cancel_backend', pid)) {
      if (await settlesWithin(running, CANCEL_GRACE_MS)) return;
      await this.signalBackend('pg_terminate_backend', pid);
    }
    // With a query active, `end()` destroys the socket, so the pending query rejects and run() goes on.
    await this.close();
  }

  /** Runs `SELECT fn(pid)` on a second connection; true when PostgreSQL signalled the backend. */
  private async signalBackend(
    fn: 'pg_cancel_backend' | 'pg_terminate_backend',
    pid: number,
  ): Promise<boolean> {
    const control = new Client({
      connectionString: this.connectionString,
      application_name: CONTROL_APPLICATION_NAME,
      connectionTimeoutMillis: CONTROL_TIMEOUT_MS,
      query_timeout: CONTROL_TIMEOUT_MS,
    });
    control.on('error', () => {});
    try {
      await control.connect();
      const { rows } = await control.query<{ signalled: boolean }>(`SELECT ${fn}($1) AS signalled`, [pid]);
      return rows[0]?.signalled === true;
    } catch {
      // The caller falls back to closing the socket; the outcome is reported from the abort reason.
      return false;
    } finally {
      await withDeadline(
        control.end().catch(() => undefined),
        CLOSE_TIMEOUT_MS,
      );
    }
  }

  private record(notice: SqlNotice): void {
    this.noticeCount += 1;
    const line = this.clip(`${notice.severity ?? 'NOTICE'}: ${notice.message ?? ''}`, MAX_LINE);
    if (isWarningNotice(notice)) {
      this.warningCount += 1;
      this.lastWarning = line;
    }
    this.notices.push(line);
    if (this.notices.length > MAX_NOTICES) this.notices.shift();
  }

  private noticeTail(): string | undefined {
    if (this.notices.length === 0) return undefined;
    const heading =
      this.noticeCount > this.notices.length
        ? `Notices (last ${this.notices.length} of ${this.noticeCount}):`
        : `Notices (${this.noticeCount}):`;
    return [heading, ...this.notices].join('\n');
  }

  private success(results: unknown): StepOutcome {
    const list = (Array.isArray(results) ? results : [results]) as {
      command?: string | null;
      rowCount?: number | null;
    }[];
    const tally = new Map<string, number>();
    let rowsAffected = 0;
    for (const result of list) {
      if (!result?.command) continue; // an empty statement (comments only)
      tally.set(result.command, (tally.get(result.command) ?? 0) + 1);
      if (WRITING_COMMANDS.has(result.command)) rowsAffected += result.rowCount ?? 0;
    }
    const statements = [...tally.values()].reduce((sum, count) => sum + count, 0);
    const commands = [...tally].map(([command, count]) => `${command} ${count}`).join(', ');
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const summary =
      `Committed ${statements} statement${statements === 1 ? '' : 's'} in ${seconds} s` +
      `${commands ? ` (${commands})` : ''}; ${rowsAffected} row${rowsAffected === 1 ? '' : 's'} affected.`;
    const output = [summary, this.noticeTail()].filter(Boolean).join('\n');
    return this.lastWarning
      ? {
          activityStatus: ActivityStatus.CompleteWithWarning,
          errorMessage: `${this.warningCount} warning${this.warningCount === 1 ? '' : 's'} from PostgreSQL; last: ${this.lastWarning}`,
          output,
        }
      : { activityStatus: ActivityStatus.Complete, output };
  }

  /**
   * Driver text cut to `max`, redacted first: cut first, a secret straddling the cut would leave a
   * fragment that no longer matches it, and the redaction of the whole outcome would miss it.
   */
  private clip(text: string, max: number): string {
    return truncate(this.redact(text), max);
  }

  /** A failed statement: PostgreSQL's message with its SQLSTATE, line and context; nothing was committed. */
  private failure(error: unknown, script: string | undefined): StepOutcome {
    const rolledBack = 'Rolled back: nothing was committed.';
    let message: string;
    if (error instanceof DatabaseError) {
      if (error.code === '57014' && /statement timeout/i.test(error.message)) {
        message = `timed out after ${this.step.timeoutSeconds} s (statement_timeout). ${rolledBack}`;
      } else {
        const line = script && error.position ? lineOf(script, Number(error.position)) : undefined;
        message = [
          `SQL script failed${line ? ` at line ${line}` : ''}: ${error.message} (SQLSTATE ${error.code}).`,
          error.detail ? `Detail: ${error.detail}.` : '',
          error.hint ? `Hint: ${error.hint}.` : '',
          error.where ? `Context: ${error.where}.` : '',
          rolledBack,
        ]
          .filter(Boolean)
          .join(' ');
      }
    } else {
      message = `SQL script failed: ${messageOf(error)}. ${rolledBack}`;
    }
    const output = this.noticeTail();
    return {
      activityStatus: ActivityStatus.FailedWithError,
      errorMessage: this.clip(message, MAX_MESSAGE),
      ...(output ? { output } : {}),
    };
  }

  /** The outcome of an abort: cancel and shutdown are `Cancelled`, a timeout is a failure. */
  private stopped(): StepOutcome {
    const output = this.noticeTail();
    const evidence = output ? { output } : {};
    if (this.context.reason() === 'timeout') {
      return {
        activityStatus: ActivityStatus.FailedWithError,
        errorMessage: `timed out after ${this.step.timeoutSeconds} s; the transaction was rolled back`,
        ...evidence,
      };
    }
    const why = this.context.reason() === 'shutdown' ? 'the worker is shutting down' : 'cancelled';
    return {
      activityStatus: ActivityStatus.Cancelled,
      errorMessage: `Stopped (${why}); the transaction was rolled back`,
      ...evidence,
    };
  }
}

const failed = (errorMessage: string): StepOutcome => ({
  activityStatus: ActivityStatus.FailedWithError,
  errorMessage,
});

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const truncate = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

/** 1-based line of a 1-based character position (PostgreSQL counts characters, not UTF-16 units). */
function lineOf(script: string, position: number): number | undefined {
  if (!Number.isInteger(position) || position < 1) return undefined;
  const before = Array.from(script)
    .slice(0, position - 1)
    .join('');
  return before.split('\n').length;
}

/**
 * A function that removes the connection string, its password (raw and decoded, URL or `password=` form)
 * and any `scheme://user:secret@` credentials from text, before anything leaves the runner.
 */
function redactor(connectionString: string): (text: string) => string {
  const secrets = new Set<string>([connectionString]);
  try {
    const url = new URL(connectionString);
    for (const raw of [url.password, url.searchParams.get('password') ?? '']) {
      if (!raw) continue;
      secrets.add(raw);
      secrets.add(safeDecode(raw));
    }
  } catch {
    // Not a URL: only the keyword form below can carry a password.
  }
  for (const match of connectionString.matchAll(/password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)/gi)) {
    const value = match[1] ?? '';
    secrets.add(value);
    secrets.add(value.replace(/^'|'$/g, ''));
  }
  // Longest first, so a password inside the whole string does not leave the rest of it behind.
  const ordered = [...secrets].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
  return (text) => {
    let clean = text;
    for (const secret of ordered) clean = clean.split(secret).join('***');
    return clean.replace(/(\/\/[^\s/:@]*:)[^\s@/]*@/g, '$1***@');
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A promise that rejects when the signal aborts (and stays pending otherwise). */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const abort = () => reject(new Error('aborted'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

/** Waits for a promise, at most `ms`; true when it settled in time. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  await settlesWithin(promise, ms);
}
