import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';

/**
 * Amazon DynamoDB Local (the real engine, a Java program) run as a child process. Its jar comes
 * from the npm package amplify-dynamodb-simulator, so `npm install` is all it takes.
 *
 * DynamoDB Local has no option to bind to loopback: it listens on every interface. So that nobody
 * who can reach the port can read or write the service's tables (an ApiKeys item with an
 * Administrator role is a way to run programs on this machine), it runs without `-sharedDb`: each
 * access key id and region then has a database of its own (a file `<accessKeyId>_<region>.db`), and
 * the service's access key id is a random secret, generated once per data directory and kept in a
 * file only the owner can read. A caller with any other key id sees an empty database of its own.
 */

export interface DynamoDbLocalOptions {
  /** Where data persists across restarts; in memory when absent (tests). */
  dataDir?: string;
  /** TCP port; a free one is picked when absent. */
  port?: number;
}

/** Where and as whom to reach one DynamoDB Local database: a DynamoDB client configuration. */
export interface DynamoConnection {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface DynamoDbLocal {
  readonly connection: DynamoConnection;
  /** The JVM's process id (the bench reads its CPU time from /proc). */
  readonly pid?: number | undefined;
  stop(): Promise<void>;
}

/** The region the local runtime signs with; with the access key id, it names the database file. */
export const LOCAL_REGION = 'local';
/** In the data directory: the access key id that names the service's database. */
export const ACCESS_KEY_FILE = 'dynamodb-local-access-key';
/** The one database file of versions that ran DynamoDB Local with `-sharedDb`. */
export const SHARED_DB_FILE = 'shared-local-instance.db';

/** A start-up problem with a one-line explanation for the operator. */
export class LocalRuntimeError extends Error {
  override readonly name = 'LocalRuntimeError';
}

/** Where the npm package keeps DynamoDB Local's jar and native libraries. */
function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

/** The JVM's arguments that run DynamoDB Local on `port` with these storage options. */
export function javaArguments(port: number, storage: readonly string[]): string[] {
  const dir = emulatorDir();
  return [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-disableTelemetry',
    ...storage,
  ];
}

function checkJava(): void {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new LocalRuntimeError(
      'Java was not found on PATH: DynamoDB Local needs a Java runtime (17 or later), e.g. `apt-get install openjdk-17-jre-headless`.',
    );
  }
}

/** DynamoDB Local takes only letters and digits in an access key id (it names a file). */
const ACCESS_KEY_PATTERN = /^[A-Za-z0-9]{16,128}$/;

const newAccessKeyId = () => `local${randomBytes(20).toString('hex')}`;

/**
 * The data directory made private (owner-only directory and files, whatever the umask or an earlier
 * version left), and the access key id of its database: read from the key file, or generated and
 * written there. A directory from a `-sharedDb` version has its database renamed to the new key's
 * file, so its schedules, executions and keys carry over.
 */
export function prepareDataDir(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (entry.isFile()) chmodSync(join(dataDir, entry.name), 0o600);
  }
  const keyFile = join(dataDir, ACCESS_KEY_FILE);
  if (existsSync(keyFile)) {
    const accessKeyId = readFileSync(keyFile, 'utf8').trim();
    if (!ACCESS_KEY_PATTERN.test(accessKeyId)) {
      throw new LocalRuntimeError(
        `${keyFile} does not hold a DynamoDB Local access key id (16 to 128 letters and digits): restore it, or remove it and the data directory's .db files to start afresh.`,
      );
    }
    return accessKeyId;
  }
  const accessKeyId = newAccessKeyId();
  const shared = join(dataDir, SHARED_DB_FILE);
  if (existsSync(shared)) renameSync(shared, join(dataDir, `${accessKeyId}_${LOCAL_REGION}.db`));
  // Written last, so a crash before it leaves the shared file to be moved again at the next start.
  writeFileSync(keyFile, `${accessKeyId}\n`, { mode: 0o600, flag: 'wx' });
  return accessKeyId;
}

/** Asks the OS for a free port. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Fails with a clear message when something else already listens on the port. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(
        error.code === 'EADDRINUSE'
          ? new LocalRuntimeError(
              `Port ${port} (${what}) is already in use: stop what uses it or choose another port.`,
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => ok()));
  });
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const port = options.port ?? (await freePort());
  if (options.port) await assertPortFree(port, 'DynamoDB Local');
  // In memory, a fresh secret per start: the database lives only as long as this process.
  const accessKeyId = options.dataDir ? prepareDataDir(options.dataDir) : newAccessKeyId();
  const storage = options.dataDir ? ['-dbPath', resolve(options.dataDir)] : ['-inMemory'];
  // The JVM inherits the umask at spawn: the database files it creates are owner-only from the start.
  const umask = process.umask(0o077);
  let child: ChildProcess;
  try {
    child = spawn(
      'java',
      // No -sharedDb: the database is the one of the secret access key id (see the top of this file).
      javaArguments(port, storage),
      // Its working directory receives a metadata file; keep that out of the project folder.
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: options.dataDir ? resolve(options.dataDir) : tmpdir() },
    );
  } finally {
    process.umask(umask);
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const endpoint = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  // Never leave a JVM behind, whatever way this process ends.
  process.once('exit', () => child.kill('SIGKILL'));

  // DynamoDB Local checks no signature: the secret that matters is the access key id.
  const connection: DynamoConnection = {
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId, secretAccessKey: accessKeyId },
  };
  const client = createDocumentClient({ ...connection, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new LocalRuntimeError(
        `DynamoDB Local exited during start-up: ${stderr.trim().split('\n').at(-1) ?? ''}`,
      );
    }
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new LocalRuntimeError(`DynamoDB Local did not answer on ${endpoint} within 30 s.`, {
          cause: error,
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  client.destroy();
  return { connection, pid: child.pid, stop };
}
