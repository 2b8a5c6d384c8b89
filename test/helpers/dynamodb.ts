import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { ensureTables, localTableNames } from '../../local/tables.js';

/** Fresh tables (unique prefix) in the suite's DynamoDB Local, and a document client for them. */
export async function freshTables() {
  const config = inject('dynamo');
  const tables = localTableNames(`t${randomUUID().slice(0, 8)}`);
  const admin = new DynamoDBClient(config);
  // No TTL: the tests' clocks are in the past, and the sweeper would delete what they write.
  await ensureTables(admin, tables, { timeToLive: false });
  admin.destroy();
  return { tables, config, client: createDocumentClient(config) };
}

/** A request a document client sent, as the SDK command saw it. */
export interface SentRequest {
  command: string;
  input: Record<string, unknown>;
}

/**
 * Records every request the client sends from now on (it still sends them), and lets a test act
 * just before one is sent, as a concurrent writer would (`before`, awaited).
 */
export function recordRequests(
  client: DynamoDBDocumentClient,
  before?: (request: SentRequest) => Promise<void> | void,
): SentRequest[] {
  const sent: SentRequest[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = { command: String(context.commandName), input: args.input as Record<string, unknown> };
      sent.push(request);
      await before?.(request);
      return next(args);
    },
    { step: 'initialize', name: 'recordRequests' },
  );
  return sent;
}

/** The actions of the TransactWriteItems requests among `sent`, one list per request. */
export function transactionsIn(sent: readonly SentRequest[]) {
  return sent
    .filter((request) => request.command === 'TransactWriteItemsCommand')
    .map((request) =>
      (request.input.TransactItems as Record<string, Record<string, unknown>>[]).map((action) => {
        const [kind, body] = Object.entries(action)[0] as [string, Record<string, unknown>];
        return { kind, ...body } as {
          kind: string;
          TableName: string;
          Key?: Record<string, unknown>;
        } & Record<string, unknown>;
      }),
    );
}
