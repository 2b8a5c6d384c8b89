import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  type DynamoDBClientConfig,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

/**
 * The one way this project builds its DynamoDB client. The endpoint comes from the SDK's own
 * configuration (`AWS_ENDPOINT_URL_DYNAMODB` locally), so no handler knows whether it is local.
 */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * One item by key, read consistently (every store's reads are: a write just made must be seen);
 * `projection` limits it to the attributes named.
 */
export async function getConsistent(
  client: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, unknown>,
  projection?: string,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await client.send(
    new GetCommand({
      TableName: tableName,
      Key: key,
      ConsistentRead: true,
      ...(projection ? { ProjectionExpression: projection } : {}),
    }),
  );
  return Item;
}

/** Cancellation reason codes of a failed TransactWriteItems, one per action (`None` where it was fine). */
export function cancellationCodes(error: unknown): string[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a write, retrying only when it lost a race with a transaction on the same items (a
 * transaction's `TransactionConflict`, or a single write's TransactionConflictException), which
 * DynamoDB asks callers to retry; condition failures are the caller's.
 */
export async function withConflictRetry<T>(write: () => Promise<T>, attempts = 6): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await write();
    } catch (error) {
      const codes = cancellationCodes(error);
      const conflicted =
        error instanceof TransactionConflictException ||
        (codes?.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed'));
      if (!conflicted || n >= attempts) throw error;
      await sleep(Math.random() * 20 * 2 ** n);
    }
  }
}

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;
export type TransactItem = TransactItems[number];

/**
 * One item of a transaction under a name, so that what a failure means is read by name
 * ({@link failedItems}), never by position: an item added in front cannot change it.
 */
export interface NamedItem<Name extends string = string> {
  name: Name;
  item: TransactItem;
}

/** TransactWriteItems, retried when it only lost a race (see {@link withConflictRetry}). */
/**
 * Writes `items` in one transaction, retrying conflicts. With `token` (ClientRequestToken), the same
 * transaction sent again within 10 minutes answers as the first did without writing again.
 */
export async function transactWrite(
  client: DynamoDBDocumentClient,
  items: TransactItems,
  token?: string,
): Promise<void> {
  await withConflictRetry(() =>
    client.send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token })),
  );
}

/** {@link transactWrite} of named items, in their order; read a failure with {@link failedItems}. */
export function transactNamed(client: DynamoDBDocumentClient, named: readonly NamedItem[]): Promise<void> {
  return transactWrite(
    client,
    named.map(({ item }) => item),
  );
}

/**
 * Writes `named` atomically and answers the names of the items whose condition failed (none: all
 * written); a cancellation for another reason (a conflict that outlasted its retries) is thrown. An
 * Update alone is sent as a conditional UpdateItem: as atomic, at half the write units of a
 * transaction of one item (DynamoDB bills each transaction item twice).
 */
export async function writeNamed<Name extends string>(
  client: DynamoDBDocumentClient,
  named: readonly NamedItem<Name>[],
): Promise<Name[]> {
  const [only, ...others] = named;
  const update = only?.item.Update;
  try {
    if (update && others.length === 0) {
      await withConflictRetry(() => client.send(new UpdateCommand(update)));
    } else await transactNamed(client, named);
    return [];
  } catch (error) {
    if (only && update && error instanceof ConditionalCheckFailedException) return [only.name];
    const failed = failedItems(error, named);
    if (failed?.length) return failed;
    throw error;
  }
}

/**
 * The names of the items whose condition failed when a transaction of `named` was cancelled: empty
 * when it was cancelled for another reason only (a conflict), undefined when the error is no
 * cancellation at all.
 */
export function failedItems<Name extends string>(
  error: unknown,
  named: readonly NamedItem<Name>[],
): Name[] | undefined {
  const codes = cancellationCodes(error);
  if (!codes) return undefined;
  return named.flatMap(({ name }, i) => (codes[i] === 'ConditionalCheckFailed' ? [name] : []));
}

/** Splits a list into chunks of at most `size` (BatchGetItem takes 100 keys). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

type Item = Record<string, unknown>;
/** Keys (or items) by table name, as BatchGetItem and BatchWriteItem take them. */
type ByTable = Record<string, Item[]>;

/** What of `byTable` is left: the tables with something in them. */
const nonEmpty = (byTable: ByTable): ByTable =>
  Object.fromEntries(Object.entries(byTable).filter(([, items]) => items.length > 0));

/**
 * Sends `part` and then whatever DynamoDB answers it left unprocessed (it may, under load), with
 * growing pauses, until nothing is left.
 */
async function untilProcessed(part: ByTable, send: (pending: ByTable) => Promise<ByTable>): Promise<void> {
  let pending = nonEmpty(part);
  for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
    pending = nonEmpty(await send(pending));
  }
}

/**
 * Reads items of several tables in one BatchGetItem (at most 100 keys in all), retrying what
 * DynamoDB leaves unprocessed: one round trip where separate GetItems would take one each. The
 * items found, by table (order not kept).
 */
export async function batchGetTables(
  client: DynamoDBDocumentClient,
  keys: ByTable,
  consistentRead = false,
): Promise<ByTable> {
  const found: ByTable = Object.fromEntries(Object.keys(keys).map((table) => [table, []]));
  await untilProcessed(keys, async (pending) => {
    const result = await client.send(
      new BatchGetCommand({
        RequestItems: Object.fromEntries(
          Object.entries(pending).map(([table, Keys]) => [table, { Keys, ConsistentRead: consistentRead }]),
        ),
      }),
    );
    for (const [table, items] of Object.entries(result.Responses ?? {})) found[table]?.push(...items);
    return Object.fromEntries(
      Object.entries(result.UnprocessedKeys ?? {}).map(([table, { Keys }]) => [
        table,
        (Keys ?? []) as Item[],
      ]),
    );
  });
  return found;
}

/** Reads items by key with BatchGetItem (100 keys a call), retrying what DynamoDB leaves unprocessed. */
export async function batchGet(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Item[],
  consistentRead = false,
): Promise<Item[]> {
  const found: Item[] = [];
  for (const part of chunk(keys, 100)) {
    found.push(...((await batchGetTables(client, { [tableName]: part }, consistentRead))[tableName] ?? []));
  }
  return found;
}

/** Deletes items by key with BatchWriteItem (25 a call), retrying what DynamoDB leaves unprocessed. */
export async function batchDelete(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Item[],
): Promise<void> {
  for (const part of chunk(keys, 25)) {
    await untilProcessed({ [tableName]: part }, async (pending) => {
      const result = await client.send(
        new BatchWriteCommand({
          RequestItems: {
            [tableName]: (pending[tableName] ?? []).map((Key) => ({ DeleteRequest: { Key } })),
          },
        }),
      );
      const left = (result.UnprocessedItems?.[tableName] ?? []).map(
        (request) => request.DeleteRequest?.Key as Item,
      );
      return { [tableName]: left };
    });
  }
}

/** Every page of a read, in order: `read` is given where the last page stopped. */
async function allPages(
  read: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await read(start);
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Runs a Query to its end, page by page (for small partitions: schedules, keys, active executions). */
export const queryAll = (
  client: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): Promise<Item[]> =>
  allPages((start) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start })));

/** Runs a Scan to its end, page by page (for small tables: the workers heard from within a day). */
export const scanAll = (
  client: DynamoDBDocumentClient,
  input: Omit<ScanCommandInput, 'ExclusiveStartKey'>,
): Promise<Item[]> =>
  allPages((start) => client.send(new ScanCommand({ ...input, ExclusiveStartKey: start })));
