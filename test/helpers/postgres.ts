import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../local/dynamodb-local.js';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL server for tests: Debian's server binaries, a fresh cluster in a temp dir, on a free
 * TCP port of 127.0.0.1 (its unix socket stays in the temp dir). The superuser `postgres` connects without a
 * password from localhost; every other role must give its password (scram-sha-256), so tests can prove a
 * password never leaks.
 */
export interface TestPostgres {
  /** Superuser URL, e.g. `postgres://postgres@127.0.0.1:5433/postgres`. */
  readonly connectionString: string;
  /** Stops the server (`pg_ctl stop -m fast`) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** PostgreSQL could not be found or started; the message says what to do. */
export class PostgresUnavailableError extends Error {
  override readonly name = 'PostgresUnavailableError';
}

const PG_ROOT = '/usr/lib/postgresql';
/** PostgreSQL refuses to run as root, so as root the server runs as this OS user. */
const SERVER_USER = 'postgres';
const START_TIMEOUT_SECONDS = 60;

/** The newest `/usr/lib/postgresql/<version>/bin` that has a server, or `POSTGRES_BIN_DIR` when set. */
export function findPostgresBinDir(): string {
  const override = process.env.POSTGRES_BIN_DIR;
  if (override) {
    if (existsSync(join(override, 'postgres'))) return override;
    throw new PostgresUnavailableError(`POSTGRES_BIN_DIR=${override} has no postgres binary`);
  }
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((version) => existsSync(join(PG_ROOT, version, 'bin', 'postgres')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  const newest = versions[0];
  if (!newest) {
    throw new PostgresUnavailableError(
      `No PostgreSQL server found under ${PG_ROOT}/<version>/bin: install one with \`apt-get install postgresql\` ` +
        '(or set POSTGRES_BIN_DIR to a directory holding initdb, pg_ctl and postgres).',
    );
  }
  return join(PG_ROOT, newest, 'bin');
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a PostgreSQL tool as the server user when we are root, else as ourselves. */
async function asServerUser(command: string, args: string[], cwd: string): Promise<string> {
  const [file, argv] = isRoot() ? ['runuser', ['-u', SERVER_USER, '--', command, ...args]] : [command, args];
  const { stdout } = await run(file, argv, { cwd, env: { ...process.env, LC_ALL: 'C' } });
  return stdout;
}

async function serverUserIds(): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', SERVER_USER]),
    run('id', ['-g', SERVER_USER]),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** Starts a fresh server; throws {@link PostgresUnavailableError} when none is installed or it fails to start. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBinDir();
  const baseDir = await mkdtemp(join(tmpdir(), 'pg-test-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'server.log');
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      process.off('exit', stopOnExit);
      await asServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], baseDir).catch(
        () => undefined,
      );
    }
    await rm(baseDir, { recursive: true, force: true });
  };
  // Last resort when the test process exits without teardown: `exit` handlers must be synchronous.
  const stopOnExit = () => {
    if (!started) return;
    try {
      const argv = [join(bin, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', 'stop'];
      if (isRoot()) execFileSync('runuser', ['-u', SERVER_USER, '--', ...argv], { stdio: 'ignore' });
      else execFileSync(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
    } catch {
      // Nothing more can be done while exiting.
    }
  };

  try {
    if (isRoot()) {
      const { uid, gid } = await serverUserIds().catch(() => {
        throw new PostgresUnavailableError(
          `Running as root but there is no "${SERVER_USER}" OS user to run PostgreSQL as ` +
            '(`apt-get install postgresql` creates it).',
        );
      });
      await chown(baseDir, uid, gid);
    }
    await asServerUser(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync', '-A', 'trust'],
      baseDir,
    );
    // The superuser is trusted from localhost; other roles must authenticate with their password.
    await writeFile(
      join(dataDir, 'pg_hba.conf'),
      [
        'local all all trust',
        'host all postgres 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${baseDir}'`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    started = true;
    process.on('exit', stopOnExit);
    await asServerUser(
      join(bin, 'pg_ctl'),
      ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', String(START_TIMEOUT_SECONDS), 'start'],
      baseDir,
    );
    return { connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
  } catch (error) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await stop();
    if (error instanceof PostgresUnavailableError) throw error;
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new PostgresUnavailableError(
      `PostgreSQL (${bin}) failed to start: ${(error as Error).message}\n${stderr}\n${log.slice(-2000)}`,
      { cause: error },
    );
  }
}
