import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { DynamoApiKeyStore } from '../../core/adapters/dynamodb/api-key-store.js';
import { ApiKeyService } from '../../core/services/api-keys.js';
import { freshTables } from '../helpers/dynamodb.js';

const run = promisify(execFile);

/** `npm run create-api-key` as an operator runs it, against DynamoDB Local instead of AWS. */
async function createApiKey(args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'bin/create-api-key.ts', ...args],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_DYNAMODB: inject('dynamo').endpoint,
          AWS_REGION: inject('dynamo').region,
          AWS_ACCESS_KEY_ID: inject('dynamo').credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: inject('dynamo').credentials.secretAccessKey,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('create-api-key', () => {
  it('creates a working Administrator key in the table and prints it once', async () => {
    const { tables, client } = await freshTables();

    const result = await createApiKey(['--table', tables.apiKeys, '--name', 'first-admin']);

    expect(result.code).toBe(0);
    const key = result.stdout.trim().split('\n').at(-1) as string;
    const principal = await new ApiKeyService(new DynamoApiKeyStore(client, tables.apiKeys)).authenticate(
      key,
    );
    expect(principal).toMatchObject({ type: 'ApiKey', name: 'first-admin', roles: ['Administrator'] });
    const stored = await new DynamoApiKeyStore(client, tables.apiKeys).listAll();
    expect(JSON.stringify(stored)).not.toContain(key);
  });

  it('takes roles and an expiry', async () => {
    const { tables, client } = await freshTables();

    const result = await createApiKey([
      '--table',
      tables.apiKeys,
      '--name',
      'workers',
      '--role',
      'Worker',
      '--expires',
      '2099-01-01T00:00:00Z',
    ]);

    expect(result.code).toBe(0);
    const [stored] = await new DynamoApiKeyStore(client, tables.apiKeys).listAll();
    expect(stored).toMatchObject({ name: 'workers', roles: ['Worker'], expiresAt: '2099-01-01T00:00:00Z' });
  });

  it.each([
    [['--name', 'x'], /--table is required/],
    [['--table', 't'], /--name: /],
    [['--table', 't', '--name', 'x', '--role', 'Owner'], /--role: /],
    [['--table', 't', '--name', 'x', '--expires', 'tomorrow'], /--expires: /],
    [['--table', 't', '--colour', 'blue'], /Unknown option '--colour'/],
  ])('refuses %j with exit code 2 and says why', async (args, message) => {
    const result = await createApiKey(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Usage: npm run create-api-key/);
  });

  it('says what AWS refused, without a stack trace, when the table does not exist', async () => {
    const result = await createApiKey(['--table', 'no-such-table', '--name', 'x']);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Could not create the key: ResourceNotFoundException/);
    expect(result.stderr).not.toMatch(/\s+at .*\.(ts|js):\d+/);
  });
});
