import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimedResponse, IdempotencyClaim, IdempotencyScope } from '../../idempotency.js';
import type { IdempotencyStore } from '../../ports.js';
import { withConflictRetry } from './client.js';
import { EXPIRES_AT } from './tables.js';

/**
 * A claim's item id: a hash of its scope. The parts are JSON-encoded, so no principal id or key
 * (any printable character, `#` too) can run into the next part, and the caller's key is not stored.
 */
const claimId = ({ operation, principal, resourceId, key }: IdempotencyScope) =>
  createHash('sha256')
    .update(JSON.stringify([operation, principal.type, principal.id, resourceId, key]))
    .digest('base64url');

/**
 * The claim's Put, for the transaction that writes the execution it started: on condition that the
 * key is unclaimed or its claim expired (TTL deletes expired items only eventually).
 */
export function claimPut(tableName: string, claim: IdempotencyClaim<ClaimedResponse>) {
  return {
    Put: {
      TableName: tableName,
      Item: {
        id: claimId(claim.scope),
        operation: claim.scope.operation,
        resourceId: claim.scope.resourceId,
        response: claim.response,
        createdAt: claim.createdAt,
        [EXPIRES_AT]: claim.expiresAt,
      },
      ConditionExpression: 'attribute_not_exists(id) OR #expiresAt <= :now',
      ExpressionAttributeNames: { '#expiresAt': EXPIRES_AT },
      ExpressionAttributeValues: { ':now': claim.createdAt },
    },
  };
}

export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async find<T extends ClaimedResponse>(scope: IdempotencyScope, now: number): Promise<T | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { id: claimId(scope) }, ConsistentRead: true }),
    );
    return Item && Number(Item[EXPIRES_AT]) > now ? (Item.response as T) : undefined;
  }

  async settle<T extends ClaimedResponse>(scope: IdempotencyScope, response: T): Promise<void> {
    await this.ifNamed(
      scope,
      response.executionId,
      (key) =>
        new UpdateCommand({
          ...key,
          UpdateExpression: 'SET #response = :response',
          ExpressionAttributeValues: { ...key.ExpressionAttributeValues, ':response': response },
        }),
    );
  }

  async release(scope: IdempotencyScope, executionId: string): Promise<void> {
    await this.ifNamed(scope, executionId, (key) => new DeleteCommand(key));
  }

  /** A write on the claim, on condition that it still names the execution; a no-op when it does not. */
  private async ifNamed(
    scope: IdempotencyScope,
    executionId: string,
    command: (key: {
      TableName: string;
      Key: { id: string };
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    }) => UpdateCommand | DeleteCommand,
  ): Promise<void> {
    try {
      await withConflictRetry(() =>
        this.client.send(
          command({
            TableName: this.tableName,
            Key: { id: claimId(scope) },
            ConditionExpression: '#response.executionId = :executionId',
            ExpressionAttributeNames: { '#response': 'response' },
            ExpressionAttributeValues: { ':executionId': executionId },
          }),
        ),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
