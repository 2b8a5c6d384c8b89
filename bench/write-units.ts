import {
  DeleteItemCommand,
  type DeleteItemCommandInput,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  ScanCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { TABLES, type TableDefinition, type TableKey } from '../core/adapters/dynamodb/tables.js';
import type { DynamoConnection } from '../local/dynamodb-local.js';
import { ensureTables, localTableNames } from '../local/tables.js';
import type { LoggedWrite } from './dynamo-proxy.js';

/**
 * AWS write request units of the writes a run made, re-derived by replay.
 *
 * DynamoDB Local reports single-item writes as AWS bills them (1 unit per KB of the item on the table,
 * plus each global secondary index the write changes: 1 to add or remove an index entry, 2 to move one,
 * 0 when a KEYS_ONLY index keeps its key), but its TransactWriteItems figures are off (4× the sum of the
 * distinct item sizes per table). So the proxy's log of successful writes is replayed, in order, into
 * shadow copies of the tables, each action of a transaction or batch as its own single-item write with
 * `ReturnConsumedCapacity: INDEXES` (conditions dropped: the original passed them on the same state).
 * Writes to different items are independent, so items are replayed in parallel, each item's writes in
 * the order their answers arrived.
 *
 * AWS rule applied: a transactional write pays its table arm twice (prepare + commit); index arms cost
 * what the same write costs outside a transaction. The second half is not in AWS's documentation: it is
 * what the DynamoDB emulator project dynoxide measured against real DynamoDB (nubo-db/dynoxide PR #188).
 * A ConditionCheck (none in this code base today) is counted as 1 table unit.
 */

export interface WriteUnits {
  /** Table arm, as a single non-transactional write of the same change. */
  table: number;
  /** Global secondary index arms. */
  indexes: number;
  /** AWS on-demand write request units: 2 × table (transactions) or 1 × table, plus indexes. */
  aws: number;
  /** Single-item writes the request made. */
  actions: number;
}

type Json = Record<string, any>;

interface Action {
  seq: number;
  transactional: boolean;
  kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  source: string;
  body: Json;
  itemKey: string;
}

const TOKEN = /[#:][A-Za-z0-9_]+/g;

/** Keeps only the placeholders the remaining expressions use (DynamoDB rejects unused ones). */
function pruned(body: Json, expressions: (string | undefined)[]): Json {
  const used = new Set(expressions.flatMap((e) => e?.match(TOKEN) ?? []));
  const keep = (map: Json | undefined) => {
    if (!map) return undefined;
    const kept = Object.fromEntries(Object.entries(map).filter(([k]) => used.has(k)));
    return Object.keys(kept).length > 0 ? kept : undefined;
  };
  return { names: keep(body.ExpressionAttributeNames), values: keep(body.ExpressionAttributeValues) };
}

function keyOf(definition: TableDefinition, item: Json): Json {
  const key: Json = { [definition.partitionKey.name]: item[definition.partitionKey.name] };
  if (definition.sortKey) key[definition.sortKey.name] = item[definition.sortKey.name];
  return key;
}

export interface Replay {
  /** By the `seq` of the logged write. */
  units: Map<number, WriteUnits>;
  /** Items compared between the source tables and their replayed copies, and how many differed. */
  check: { items: number; different: number };
}

/** Every item of a table, as canonical JSON by key (attribute order ignored). */
async function snapshot(client: DynamoDBClient, table: string, definition: TableDefinition) {
  const items = new Map<string, string>();
  let ExclusiveStartKey: Json | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    for (const item of page.Items ?? []) {
      items.set(JSON.stringify(keyOf(definition, item)), canonical(item));
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Json).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function replayWriteUnits(
  dynamo: DynamoConnection,
  log: readonly LoggedWrite[],
  sourcePrefix: string,
  shadowPrefix = 'shadow',
): Promise<Replay> {
  const client = new DynamoDBClient(dynamo);
  try {
    const source = localTableNames(sourcePrefix);
    const shadow = localTableNames(shadowPrefix);
    await ensureTables(client, shadow);
    const tables = new Map<string, { shadow: string; definition: TableDefinition }>();
    for (const key of Object.keys(TABLES) as TableKey[]) {
      tables.set(source[key], { shadow: shadow[key], definition: TABLES[key] });
    }

    const actions: Action[] = [];
    const add = (seq: number, transactional: boolean, kind: Action['kind'], body: Json) => {
      const table = tables.get(body.TableName);
      if (!table) throw new Error(`Replay: unknown table ${body.TableName}`);
      const key = kind === 'Put' ? keyOf(table.definition, body.Item) : body.Key;
      actions.push({
        seq,
        transactional,
        kind,
        source: body.TableName,
        body,
        itemKey: `${body.TableName}|${JSON.stringify(key)}`,
      });
    };
    for (const { seq, operation, body } of log) {
      switch (operation) {
        case 'PutItem':
          add(seq, false, 'Put', body);
          break;
        case 'UpdateItem':
          add(seq, false, 'Update', body);
          break;
        case 'DeleteItem':
          add(seq, false, 'Delete', body);
          break;
        case 'BatchWriteItem':
          for (const [TableName, requests] of Object.entries(body.RequestItems as Json)) {
            for (const request of requests as Json[]) {
              if (request.PutRequest) add(seq, false, 'Put', { TableName, Item: request.PutRequest.Item });
              else add(seq, false, 'Delete', { TableName, Key: request.DeleteRequest.Key });
            }
          }
          break;
        case 'TransactWriteItems':
          for (const item of body.TransactItems as Json[]) {
            const [kind, action] = Object.entries(item)[0] as [Action['kind'], Json];
            add(seq, true, kind, action);
          }
          break;
      }
    }

    const byItem = new Map<string, Action[]>();
    for (const action of actions) {
      const list = byItem.get(action.itemKey);
      if (list) list.push(action);
      else byItem.set(action.itemKey, [action]);
    }

    const units = new Map<number, WriteUnits>();
    const record = (action: Action, table: number, indexes: number) => {
      const entry = units.get(action.seq) ?? { table: 0, indexes: 0, aws: 0, actions: 0 };
      entry.table += table;
      entry.indexes += indexes;
      entry.aws += (action.transactional ? 2 : 1) * table + indexes;
      entry.actions += 1;
      units.set(action.seq, entry);
    };

    const replay = async (action: Action) => {
      const TableName = (tables.get(action.source) as { shadow: string }).shadow;
      const body = action.body;
      let consumed: Json | undefined;
      if (action.kind === 'Put') {
        const input: PutItemCommandInput = { TableName, Item: body.Item, ReturnConsumedCapacity: 'INDEXES' };
        consumed = (await client.send(new PutItemCommand(input))).ConsumedCapacity;
      } else if (action.kind === 'Update') {
        const { names, values } = pruned(body, [body.UpdateExpression]);
        const input: UpdateItemCommandInput = {
          TableName,
          Key: body.Key,
          UpdateExpression: body.UpdateExpression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnConsumedCapacity: 'INDEXES',
        };
        consumed = (await client.send(new UpdateItemCommand(input))).ConsumedCapacity;
      } else if (action.kind === 'Delete') {
        const input: DeleteItemCommandInput = { TableName, Key: body.Key, ReturnConsumedCapacity: 'INDEXES' };
        consumed = (await client.send(new DeleteItemCommand(input))).ConsumedCapacity;
      } else {
        await client.send(new GetItemCommand({ TableName, Key: body.Key }));
        record(action, 1, 0);
        return;
      }
      const table = Number(consumed?.Table?.CapacityUnits ?? consumed?.CapacityUnits ?? 0);
      const indexes = Object.values((consumed?.GlobalSecondaryIndexes ?? {}) as Json).reduce(
        (sum: number, index: Json) => sum + Number(index.CapacityUnits ?? 0),
        0,
      );
      record(action, table, indexes);
    };

    const groups = [...byItem.values()];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < groups.length) {
          for (const action of groups[next++] as Action[]) await replay(action);
        }
      }),
    );

    // The replay is right only if it rebuilt the same items (sizes, index keys): compare them all.
    const check = { items: 0, different: 0 };
    for (const [name, table] of tables) {
      const [original, copy] = await Promise.all([
        snapshot(client, name, table.definition),
        snapshot(client, table.shadow, table.definition),
      ]);
      for (const [key, item] of original) {
        check.items++;
        if (copy.get(key) !== item) check.different++;
      }
      check.different += [...copy.keys()].filter((key) => !original.has(key)).length;
      await client.send(new DeleteTableCommand({ TableName: table.shadow }));
    }
    return { units, check };
  } finally {
    client.destroy();
  }
}
