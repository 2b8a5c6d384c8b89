import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type NamedItem, transactNamed } from '../../core/adapters/dynamodb/client.js';
import { counterUpdate } from '../../core/adapters/dynamodb/counters.js';
import { type BatchPart, TransactionBatcher } from '../../core/adapters/dynamodb/transaction-batcher.js';
import { freshTables, recordRequests } from '../helpers/dynamodb.js';

/**
 * The group commit of the cron fires (TransactionBatcher) over DynamoDB Local: a batch refused is
 * written part by part, each with its own conditions; a batch whose answer was lost is sent again
 * with its ClientRequestToken, so what it wrote is not taken for a stale part.
 */

const COUNTER = 'fires';

async function setUp() {
  const db = await freshTables();
  const { client, tables } = db;
  /** A fire: a new item of the counters table (only once) and one more on the COUNTER. */
  const part = (id: string): BatchPart => ({
    key: id,
    items: [
      {
        name: 'fire',
        item: {
          Put: { TableName: tables.counters, Item: { id }, ConditionExpression: 'attribute_not_exists(id)' },
        },
      },
    ],
    counters: () => [COUNTER],
  });
  const alone = async (one: BatchPart) => {
    const named: NamedItem[] = [
      ...one.items,
      ...one.counters(0).map((id) => ({ name: 'counter', item: counterUpdate(tables.counters, id, 1) })),
    ];
    await transactNamed(client, named);
  };
  // One at a time: the first part goes alone, the ones that wait meanwhile in one batch.
  const batcher = new TransactionBatcher(client, tables.counters, alone, 1);
  const read = async (id: string) =>
    (await client.send(new GetCommand({ TableName: tables.counters, Key: { id }, ConsistentRead: true })))
      .Item;
  return { client, tables, part, batcher, read };
}

const settle = (writes: Promise<void>[]) => Promise.allSettled(writes);

describe('TransactionBatcher', () => {
  it('writes a batch whose answer was lost once, and answers each of its parts as written', async () => {
    // Arrange: the first transaction of several fires commits, then its answer is lost.
    const { client, part, batcher, read } = await setUp();
    let lost = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const items = (args.input as { TransactItems?: unknown[] }).TransactItems ?? [];
        if (context.commandName === 'TransactWriteItemsCommand' && items.length > 2 && lost === 0) {
          lost += 1;
          throw Object.assign(new Error('The answer was lost'), { name: 'TimeoutError' });
        }
        return result;
      },
      { step: 'initialize', name: 'loseOneAnswer' },
    );
    const sent = recordRequests(client);

    // Act
    const outcomes = await settle(['a', 'b', 'c', 'd'].map((id) => batcher.write(part(id))));

    // Assert: every fire written, and counted, once; the batch was sent again with its token.
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(lost).toBe(1);
    for (const id of ['a', 'b', 'c', 'd']) expect(await read(id)).toMatchObject({ id });
    expect(await read(COUNTER)).toMatchObject({ count: 4 });
    const batches = sent.filter(
      (request) =>
        request.command === 'TransactWriteItemsCommand' &&
        (request.input.TransactItems as unknown[]).length > 2,
    );
    expect(batches).toHaveLength(2);
    expect(batches[0]?.input.ClientRequestToken).toEqual(expect.any(String));
    expect(batches[1]?.input.ClientRequestToken).toBe(batches[0]?.input.ClientRequestToken);
  });

  it('writes the parts of a refused batch alone: the one whose condition fails fails alone', async () => {
    // Arrange: fire 'c' was written before.
    const { part, batcher, read } = await setUp();
    await batcher.write(part('c'));

    // Act
    const outcomes = await settle(['a', 'b', 'c', 'd'].map((id) => batcher.write(part(id))));

    // Assert
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(await read(COUNTER)).toMatchObject({ count: 4 });
  });
});
