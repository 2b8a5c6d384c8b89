import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, paginateListTables } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import {
  ACCESS_KEY_FILE,
  type DynamoConnection,
  freePort,
  javaArguments,
  LOCAL_REGION,
  LocalRuntimeError,
  SHARED_DB_FILE,
  startDynamoDbLocal,
} from '../../local/dynamodb-local.js';
import { freshTables } from '../helpers/dynamodb.js';
import { listenersOnPort } from '../helpers/listeners.js';

/**
 * DynamoDB Local listens on every interface (it has no bind option), so its data is guarded by a
 * secret access key id instead of `-sharedDb`; PostgreSQL in tests binds to loopback.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  dirs.push(dir);
  return dir;
};

const as = (connection: DynamoConnection, accessKeyId: string): DynamoConnection => ({
  ...connection,
  credentials: { accessKeyId, secretAccessKey: accessKeyId },
});

const tableNames = async (connection: DynamoConnection) => {
  const client = new DynamoDBClient(connection);
  try {
    // A page holds at most 100 names, and the suite's database holds hundreds of tables.
    const names: string[] = [];
    for await (const page of paginateListTables({ client }, {})) names.push(...(page.TableNames ?? []));
    return names;
  } finally {
    client.destroy();
  }
};

/** What the version before this one ran: one `-sharedDb` database for every credential. */
async function sharedDbVersion(
  dataDir: string,
): Promise<{ connection: DynamoConnection; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('java', javaArguments(port, ['-sharedDb', '-dbPath', dataDir]), {
    stdio: 'ignore',
    cwd: dataDir,
  });
  const exited = new Promise((done) => child.once('exit', done));
  const connection = as(
    {
      endpoint: `http://127.0.0.1:${port}`,
      region: LOCAL_REGION,
      credentials: { accessKeyId: '', secretAccessKey: '' },
    },
    'local',
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await tableNames(connection);
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    connection,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('DynamoDB Local', () => {
  it('in memory, shows the tables to its own access key id only', async () => {
    const { tables, config } = await freshTables();

    expect(await tableNames(config)).toContain(tables.apiKeys);
    expect(config.credentials.accessKeyId).toMatch(/^[A-Za-z0-9]{16,}$/);
    for (const stranger of ['local', 'AKIAIOSFODNN7EXAMPLE', `${config.credentials.accessKeyId}0`]) {
      expect(await tableNames(as(config, stranger))).toEqual([]);
    }
  });

  it('takes over a data directory of the -sharedDb version: same data, owner-only, other keys see nothing', async () => {
    // Arrange: the previous version's data directory, files as its umask left them.
    const dataDir = tempDir();
    const old = await sharedDbVersion(dataDir);
    const oldClient = createDocumentClient(old.connection);
    await new DynamoDBClient(old.connection).send(
      new CreateTableCommand({
        TableName: 'schedule-service-ApiKeys',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      }),
    );
    await oldClient.send(
      new PutCommand({ TableName: 'schedule-service-ApiKeys', Item: { id: 'kept', name: 'old' } }),
    );
    oldClient.destroy();
    await old.stop();
    expect(existsSync(join(dataDir, SHARED_DB_FILE))).toBe(true);
    chmodSync(dataDir, 0o755);
    for (const file of readdirSync(dataDir)) chmodSync(join(dataDir, file), 0o644);

    // Act
    const upgraded = await startDynamoDbLocal({ dataDir });
    const { connection } = upgraded;
    const client = createDocumentClient(connection);
    const kept = await client.send(
      new GetCommand({ TableName: 'schedule-service-ApiKeys', Key: { id: 'kept' } }),
    );
    const strangers = await tableNames(as(connection, 'local'));
    client.destroy();
    await upgraded.stop();

    // Assert: the data moved under the new secret, which sits in an owner-only file.
    expect(kept.Item).toEqual({ id: 'kept', name: 'old' });
    expect(strangers).toEqual([]);
    const secret = readFileSync(join(dataDir, ACCESS_KEY_FILE), 'utf8').trim();
    expect(secret).toBe(connection.credentials.accessKeyId);
    expect(existsSync(join(dataDir, SHARED_DB_FILE))).toBe(false);
    expect(existsSync(join(dataDir, `${secret}_${LOCAL_REGION}.db`))).toBe(true);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const file of readdirSync(dataDir)) {
      expect([file, statSync(join(dataDir, file)).mode & 0o777]).toEqual([file, 0o600]);
    }

    // And a restart keeps the same secret and database.
    const again = await startDynamoDbLocal({ dataDir });
    expect(again.connection.credentials.accessKeyId).toBe(secret);
    expect(await tableNames(again.connection)).toEqual(['schedule-service-ApiKeys']);
    await again.stop();
  }, 90_000);

  it('refuses to start on a data directory whose key file was damaged', async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, ACCESS_KEY_FILE), 'not a key!\n');

    await expect(startDynamoDbLocal({ dataDir })).rejects.toThrow(LocalRuntimeError);
    await expect(startDynamoDbLocal({ dataDir })).rejects.toThrow(
      /does not hold a DynamoDB Local access key id/,
    );
  });
});

describe('PostgreSQL of the tests', () => {
  it('listens on loopback only', () => {
    const listeners = listenersOnPort(Number(new URL(inject('postgresUrl')).port));

    expect(listeners.length).toBeGreaterThan(0);
    expect(listeners.every((listener) => listener.loopback)).toBe(true);
  });
});
