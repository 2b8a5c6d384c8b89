import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { countIntoCell } from './execution-cells.js';
import type { TableNames } from './tables.js';

/**
 * Counts the executions written before the status#initiatedByType cells into them: one pass over the
 * Executions table, each execution without `cellPk` given its cell keys and counted into its cell's
 * counters by {@link countIntoCell}, one conditional transaction each. It runs while the service
 * serves (in the cloud, after the deploy that brought this version; locally at startup), so that
 * condition is what keeps the counts exact: a transition of an uncounted execution counts it in
 * first, a create counts its own, and an execution already counted is skipped, so a rerun or a
 * resumed crash counts nothing twice. Returns how many executions were uncounted when it read them.
 */
export async function backfillExecutionCells(
  client: DynamoDBDocumentClient,
  tables: Pick<TableNames, 'executions' | 'counters'>,
): Promise<number> {
  let uncounted = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tables.executions,
        FilterExpression: 'attribute_not_exists(cellPk)',
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      if (await countIntoCell(client, tables, item.id as string, item)) uncounted++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return uncounted;
}
