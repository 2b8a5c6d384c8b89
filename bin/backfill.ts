import { parseArgs } from 'node:util';
import { z } from 'zod';
import { backfillExecutionCells } from '../core/adapters/dynamodb/cell-backfill.js';
import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import { ValidationError } from '../core/errors.js';
import { parseOrThrow } from '../core/schemas/validation.js';

/**
 * Counts the executions written before the filter cells into them, in a deployed stack: the last
 * step of the upgrade to the cell indexes (README, "Upgrading a deployed stack"), run once the deploy
 * that brought this version has finished, so no function of the older version still writes. Safe
 * while the service serves and safe to rerun (see `backfillExecutionCells`). Uses the caller's AWS
 * credentials and needs Scan, GetItem and UpdateItem on the Executions and Counters tables.
 *
 *   npm run backfill -- --executions-table <ExecutionsTableName output> \
 *     --counters-table <CountersTableName output> [--region eu-west-2]
 */

const USAGE =
  'Usage: npm run backfill -- --executions-table <Executions table name> ' +
  '--counters-table <Counters table name> [--region <AWS region>]';

const REQUIRED = 'required: the table name, from the stack outputs';
const tableName = z.string({ error: REQUIRED }).min(1, REQUIRED);
const BackfillInput = z.strictObject({
  'executions-table': tableName,
  'counters-table': tableName,
  region: z.string().min(1).optional(),
});

async function main(argv: string[]): Promise<number> {
  let input: z.output<typeof BackfillInput>;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        'executions-table': { type: 'string' },
        'counters-table': { type: 'string' },
        region: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const { help: _help, ...options } = values;
    input = parseOrThrow(BackfillInput, options, 'arguments');
  } catch (error) {
    if (error instanceof ValidationError) {
      for (const [field, messages] of Object.entries(error.validationErrors ?? {})) {
        console.error(`--${field}: ${messages.join('; ')}`);
      }
    } else {
      console.error((error as Error).message);
    }
    console.error(USAGE);
    return 2;
  }
  const client = createDocumentClient(input.region ? { region: input.region } : {});
  try {
    const counted = await backfillExecutionCells(client, {
      executions: input['executions-table'],
      counters: input['counters-table'],
    });
    console.log(`Counted ${counted} executions into their cells; every execution now has its cell keys.`);
    return 0;
  } catch (error) {
    // Rerunning resumes: what was counted keeps its cell keys and is skipped.
    console.error(
      `The backfill stopped: ${(error as Error).name}: ${(error as Error).message}. Run it again to resume.`,
    );
    return 1;
  } finally {
    client.destroy();
  }
}

process.exit(await main(process.argv.slice(2)));
