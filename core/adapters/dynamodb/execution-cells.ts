import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failedItems, getConsistent, type NamedItem, transactNamed } from './client.js';
import { cellCounterIds, counterUpdate } from './counters.js';
import { countedInCell, indexAttributes, toExecution } from './execution-items.js';
import type { TableNames } from './tables.js';

type Item = Record<string, unknown>;

/**
 * An execution has `cellPk` exactly when its cell's counters hold it: this gives one such execution its
 * cell keys and counts it into its cell in one transaction, on condition that it still has no
 * `cellPk` and is still in the status read. So whoever gets there first (the backfill, a rerun of it,
 * or a transition of that execution) counts it, and only once. Returns whether the execution was
 * uncounted when read (`seen`, the item as just read, saves the first read); false if it is gone.
 */
export async function countIntoCell(
  client: DynamoDBDocumentClient,
  tables: Pick<TableNames, 'executions' | 'counters'>,
  id: string,
  seen?: Item,
): Promise<boolean> {
  let item = seen ?? (await getConsistent(client, tables.executions, { id }));
  if (!item || countedInCell(item)) return false;
  for (;;) {
    const execution = toExecution(item);
    const { cellPk, scheduleCellPk } = indexAttributes(execution);
    const named: NamedItem<'execution' | 'counter'>[] = [
      {
        name: 'execution',
        item: {
          Update: {
            TableName: tables.executions,
            Key: { id },
            UpdateExpression: 'SET cellPk = :cell, scheduleCellPk = :scheduleCell',
            ConditionExpression: 'attribute_not_exists(cellPk) AND #status = :status',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':cell': cellPk,
              ':scheduleCell': scheduleCellPk,
              ':status': execution.status,
            },
          },
        },
      },
      ...cellCounterIds(execution, 0).map((counter) => ({
        name: 'counter' as const,
        item: counterUpdate(tables.counters, counter, 1),
      })),
    ];
    try {
      await transactNamed(client, named);
      return true;
    } catch (error) {
      if (!failedItems(error, named)?.includes('execution')) throw error;
    }
    // Moved or counted meanwhile: counted is done, moved is counted in its new status.
    item = await getConsistent(client, tables.executions, { id });
    if (!item || countedInCell(item)) return true;
  }
}
