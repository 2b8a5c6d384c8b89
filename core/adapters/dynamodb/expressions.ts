import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * The expression builders every store writes with: one conditional update of one item, alone
 * ({@link sendIfMatches}) or inside a transaction.
 */

/**
 * `SET a = :a, …` for the defined fields of `patch`, on condition that each field of `expected` is
 * one of the given values (`#status IN (…)`), as one DynamoDB update.
 */
export function setExpression(patch: Record<string, unknown>, expected: Record<string, unknown>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const [i, [field, value]] of Object.entries(patch).entries()) {
    if (value === undefined) continue;
    names[`#s${i}`] = field;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  }
  const conditions: string[] = [];
  for (const [i, [field, allowed]] of Object.entries(expected).entries()) {
    const options = Array.isArray(allowed) ? allowed : [allowed];
    names[`#c${i}`] = field;
    const placeholders = options.map((option, j) => {
      values[`:c${i}_${j}`] = option;
      return `:c${i}_${j}`;
    });
    conditions.push(`#c${i} IN (${placeholders.join(', ')})`);
  }
  return {
    expression: `SET ${sets.join(', ')}`,
    condition: conditions.join(' AND '),
    names,
    values,
  };
}

/**
 * A conditional update of one item (see `setExpression`), usable alone or inside a transaction;
 * `remove` names attributes the same write drops.
 */
export function conditionalUpdate(
  table: string,
  key: Record<string, unknown>,
  patch: Record<string, unknown>,
  expected: Record<string, unknown>,
  remove: readonly string[] = [],
) {
  const update = setExpression(patch, expected);
  return {
    Update: {
      TableName: table,
      Key: key,
      UpdateExpression:
        remove.length > 0 ? `${update.expression} REMOVE ${remove.join(', ')}` : update.expression,
      ConditionExpression: update.condition,
      ExpressionAttributeNames: update.names,
      ExpressionAttributeValues: update.values,
    },
  };
}

/** Sends one conditional update alone; false when its condition did not hold (nothing written). */
export async function sendIfMatches(
  client: DynamoDBDocumentClient,
  update: ReturnType<typeof conditionalUpdate>['Update'],
): Promise<boolean> {
  try {
    await client.send(new UpdateCommand(update));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
