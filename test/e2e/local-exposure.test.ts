import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../core/adapters/dynamodb/api-key-store.js';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { Role } from '../../core/model.js';
import { ApiKeyService } from '../../core/services/api-keys.js';
import { ACCESS_KEY_FILE, freePort, LOCAL_REGION } from '../../local/dynamodb-local.js';
import { ensureTables, localTableNames } from '../../local/tables.js';
import { eventually } from '../helpers/eventually.js';
import { listenersOf, processTree } from '../helpers/listeners.js';
import { start, stop, waitFor } from '../helpers/npm-start.js';

/**
 * What `npm start` opens to the network (issue: anyone nearby could write an Administrator key into
 * DynamoDB Local). Every socket of its process tree must be loopback-only, but DynamoDB Local's, which
 * cannot be (it has no bind option): there, nobody without the data directory's secret access key id
 * may see or change the service's data.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'exposure-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const client = (endpoint: string, accessKeyId: string, region = LOCAL_REGION) =>
  new DynamoDBClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey: accessKeyId } });

describe('npm start on the network', () => {
  it('listens on loopback only, but for DynamoDB Local, whose data no other credentials reach', async () => {
    const port = await freePort();
    const adminKey = 'exposure-admin-key';
    const started = start({ PORT: String(port), DATA_DIR: dataDir, LOCAL_ADMIN_API_KEY: adminKey });
    await waitFor(started, /try: curl/);
    const api = `http://127.0.0.1:${port}/api/v1`;
    try {
      // Every listener of the tree (the service's node process, the JVM, the embedded worker).
      const listeners = listenersOf(processTree(started.child.pid as number));
      const ports = listeners.map((l) => l.port);
      expect(ports).toContain(port);
      // The API, local Step Functions, local EventBridge, local SQS (the claims' wake-ups) and the
      // local secrets endpoint (the page-token key, answered only to the handlers' session token):
      // the service's own process, on loopback.
      const own = listeners.filter((l) => l.pid === started.child.pid);
      expect(own.length).toBe(5);
      expect(own.every((l) => l.loopback)).toBe(true);
      // Anything else is DynamoDB Local, alone.
      const exposed = listeners.filter((l) => !l.loopback);
      expect(listeners.length).toBe(own.length + exposed.length);
      expect(exposed).toHaveLength(1);
      expect(exposed[0]?.commandLine).toMatch(/^java .*DynamoDBLocal\.jar/);
      const dynamoEndpoint = `http://127.0.0.1:${(exposed[0] as { port: number }).port}`;

      // The guarded one is the service's database: its key, from the owner-only file, sees the tables.
      const tables = localTableNames('schedule-service');
      const secret = readFileSync(join(dataDir, ACCESS_KEY_FILE), 'utf8').trim();
      const owner = client(dynamoEndpoint, secret);
      expect((await owner.send(new ListTablesCommand({}))).TableNames).toContain(tables.apiKeys);
      owner.destroy();

      // Anyone else, whatever key id and region, sees no table and reaches no key.
      for (const [accessKeyId, region] of [
        ['local', LOCAL_REGION],
        ['AKIAIOSFODNN7EXAMPLE', 'us-east-1'],
        [secret.slice(0, -1), LOCAL_REGION],
        [secret, 'us-east-1'],
      ] as const) {
        const stranger = client(dynamoEndpoint, accessKeyId, region);
        expect((await stranger.send(new ListTablesCommand({}))).TableNames).toEqual([]);
        await expect(
          stranger.send(new GetItemCommand({ TableName: tables.apiKeys, Key: { id: { S: 'x' } } })),
        ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
        stranger.destroy();
      }

      // The attack itself: an ApiKeys table of one's own with an Administrator key in it. It lands in
      // the stranger's database, and the API does not know that key.
      const strangerConfig = {
        endpoint: dynamoEndpoint,
        region: LOCAL_REGION,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      };
      const strangerAdmin = new DynamoDBClient(strangerConfig);
      await ensureTables(strangerAdmin, tables);
      strangerAdmin.destroy();
      const documents = createDocumentClient(strangerConfig);
      const planted = await new ApiKeyService(new DynamoApiKeyStore(documents, tables.apiKeys)).create({
        name: 'intruder',
        roles: [Role.Administrator],
      });
      documents.destroy();
      const asIntruder = await fetch(`${api}/schedules`, { headers: { 'X-Api-Key': planted.key } });
      expect(asIntruder.status).toBe(401);
      const asOperator = await fetch(`${api}/schedules`, { headers: { 'X-Api-Key': adminKey } });
      expect(asOperator.status).toBe(200);

      // A step the embedded worker runs does not inherit the handlers' database credentials.
      const headers = { 'X-Api-Key': adminKey, 'Content-Type': 'application/json' };
      const schedule = await fetch(`${api}/schedules`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'Environment',
          triggerType: 'Manual',
          steps: [
            {
              name: 'No database key',
              stepType: 'Executable',
              executablePath: '/bin/sh',
              arguments: '-c \'test -z "$AWS_ACCESS_KEY_ID$AWS_ENDPOINT_URL_DYNAMODB"\'',
            },
          ],
        }),
      });
      const { id } = (await schedule.json()) as { id: string };
      const run = await fetch(`${api}/schedules/${id}/run`, { method: 'POST', headers });
      const { executionId } = (await run.json()) as { executionId: string };
      const execution = await eventually(
        async () =>
          (await (await fetch(`${api}/schedule-executions/${executionId}`, { headers })).json()) as {
            status: string;
          },
        (current) => ['Completed', 'Failed', 'Cancelled'].includes(current.status),
        30_000,
      );
      expect(execution.status).toBe('Completed');

      // The secret and the database are the owner's alone.
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      const files = readdirSync(dataDir);
      expect(files).toContain(`${secret}_${LOCAL_REGION}.db`);
      for (const file of files) expect([file, statSync(join(dataDir, file)).mode & 0o077]).toEqual([file, 0]);
    } finally {
      expect(await stop(started)).toBe(0);
    }
  }, 120_000);
});
