import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, expect, inject } from 'vitest';
import { TABLE_ENV, type TableKey } from '../../core/adapters/dynamodb/tables.js';
import { invokedFunction } from '../../local/api-gateway.js';

/**
 * The local runtime runs every function in one process with no IAM, so a call a function's role does
 * not allow would only fail in AWS. This setup file of the e2e suite records each AWS SDK call made
 * inside an in-process invocation (`invokedFunction`), as the IAM action and table it needs, and
 * after each file checks every one against that function's statements in the synthesized stack
 * (e2e-global-setup.ts). Calls outside an invocation (the tests' own, the local runtime's) are not
 * checked.
 */

interface Need {
  fn: string;
  action: string;
  table?: TableKey | string;
  index?: boolean;
}

/** Document client command names → the DynamoDB action IAM checks. */
const DOCUMENT_ACTIONS: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
};
const TRANSACT_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};
/** SQS's batch actions have no IAM action of their own: the single action's authorises them. */
const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};
const SERVICE_OF_CLIENT: Record<string, string> = {
  DynamoDBDocumentClient: 'dynamodb',
  DynamoDBClient: 'dynamodb',
  SFNClient: 'states',
  SQSClient: 'sqs',
  EventBridgeClient: 'events',
};

/** The table key of a local table name, from the names the local stack gave the functions. */
const tableKeyOf = (name: string): TableKey | string =>
  (Object.keys(TABLE_ENV) as TableKey[]).find((key) => process.env[TABLE_ENV[key]] === name) ?? name;

function needsOf(
  fn: string,
  client: object,
  command: { constructor: { name: string }; input?: any },
): Need[] {
  const service = SERVICE_OF_CLIENT[client.constructor.name] ?? client.constructor.name;
  const name = command.constructor.name.replace(/Command$/, '');
  const input = command.input ?? {};
  if (service === 'sqs') return [{ fn, action: `sqs:${SQS_BATCH_ACTIONS[name] ?? name}` }];
  if (service !== 'dynamodb') return [{ fn, action: `${service}:${name}` }];
  const on = (action: string, table: string, index = false): Need => ({
    fn,
    action: `dynamodb:${action}`,
    table: tableKeyOf(table),
    index,
  });
  if (name === 'TransactWrite' || name === 'TransactGet') {
    return (input.TransactItems as Record<string, { TableName: string }>[]).flatMap((item) =>
      Object.entries(item).map(([kind, part]) => on(TRANSACT_ACTIONS[kind] ?? kind, part.TableName)),
    );
  }
  const action = DOCUMENT_ACTIONS[name] ?? name;
  if (input.RequestItems) return Object.keys(input.RequestItems).map((table) => on(action, table));
  return [on(action, input.TableName, input.IndexName !== undefined)];
}

const needs = new Map<string, Need>();
/**
 * The `send` of smithy's Client, which every SDK v3 client extends: taken from the clients the
 * functions use (not imported from `@smithy/core`, which could resolve to another copy), and
 * patched once per copy.
 */
const bases = new Set(
  [DynamoDBClient, DynamoDBDocumentClient, SFNClient, SQSClient, EventBridgeClient].map(
    (client) => Object.getPrototypeOf(client.prototype) as { send: (...args: any[]) => unknown },
  ),
);
for (const base of bases) {
  const send = base.send;
  base.send = function (this: object, command: any, ...rest: any[]) {
    const fn = invokedFunction.getStore();
    if (fn) for (const need of needsOf(fn, this, command)) needs.set(JSON.stringify(need), need);
    return send.call(this, command, ...rest);
  };
}

afterAll(() => {
  const grants = inject('functionGrants');
  const allowed = (need: Need) =>
    (grants[need.fn] ?? []).some(
      (statement) =>
        statement.actions.includes(need.action) &&
        (need.table === undefined ||
          (need.index ? statement.indexes : statement.tables).includes(need.table as TableKey)),
    );
  expect([...needs.values()].filter((need) => !allowed(need))).toEqual([]);
});
