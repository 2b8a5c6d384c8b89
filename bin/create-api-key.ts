import { parseArgs } from 'node:util';
import { DynamoApiKeyStore } from '../core/adapters/dynamodb/api-key-store.js';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import { ValidationError } from '../core/errors.js';
import { CreateApiKeyInput } from '../core/schemas/api-key.js';
import { parseOrThrow } from '../core/schemas/validation.js';
import { ApiKeyService } from '../core/services/api-keys.js';

/**
 * Creates an API key straight in a deployed ApiKeys table: the way to get the first Administrator
 * key, before any key exists to call `POST /api-keys` with. Uses the caller's AWS credentials (the
 * SDK's usual chain: environment, profile, SSO), needs `dynamodb:PutItem` on the table, and prints
 * the key once; only its SHA-256 is stored, as when the API creates one.
 *
 *   npm run create-api-key -- --table <ApiKeysTableName output> --name first-admin \
 *     [--role Administrator] [--role Worker] [--expires 2027-01-01T00:00:00Z] [--region eu-west-2]
 */

const USAGE =
  'Usage: npm run create-api-key -- --table <ApiKeys table name> --name <key name> ' +
  '[--role Administrator|Worker ...] [--expires <ISO date-time>] [--region <AWS region>]';

/** The command-line option behind each field of the key's schema, for error messages. */
const OPTION_OF_FIELD: Record<string, string> = { name: '--name', roles: '--role', expiresAt: '--expires' };

async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        table: { type: 'string' },
        name: { type: 'string' },
        role: { type: 'string', multiple: true },
        expires: { type: 'string' },
        region: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (typeof values.table !== 'string' || values.table === '') {
    console.error(`--table is required (the stack output ApiKeysTableName).\n${USAGE}`);
    return 2;
  }
  let input: CreateApiKeyInput;
  try {
    input = parseOrThrow(
      CreateApiKeyInput,
      {
        name: values.name,
        roles: (values.role as string[] | undefined) ?? ['Administrator'],
        ...(values.expires ? { expiresAt: values.expires } : {}),
      },
      'arguments',
    );
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    for (const [field, messages] of Object.entries(error.validationErrors ?? {})) {
      const option = OPTION_OF_FIELD[field.split(/[.[]/)[0] as string] ?? field;
      console.error(`${option}: ${messages.join('; ')}`);
    }
    console.error(USAGE);
    return 2;
  }
  const client = createDocumentClient(typeof values.region === 'string' ? { region: values.region } : {});
  try {
    const created = await new ApiKeyService(new DynamoApiKeyStore(client, values.table)).create(input);
    console.log(`Created API key '${created.name}' (${created.roles.join(', ')}), id ${created.id}.`);
    console.log('The key is shown once; store it now:');
    console.log(created.key);
    return 0;
  } catch (error) {
    // AWS errors name what went wrong (no credentials, no such table, access denied) without secrets.
    console.error(`Could not create the key: ${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  } finally {
    client.destroy();
  }
}

process.exit(await main(process.argv.slice(2)));
