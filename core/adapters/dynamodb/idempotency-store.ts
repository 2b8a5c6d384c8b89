import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimedResponse, FoundClaim, IdempotencyScope } from '../../idempotency.js';
import type { IdempotencyStore } from '../../ports.js';
import { getConsistent, withConflictRetry } from './client.js';
import { claimId } from './idempotency-items.js';
import { EXPIRES_AT } from './tables.js';

export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async find<T extends ClaimedResponse>(
    scope: IdempotencyScope,
    now: number,
  ): Promise<FoundClaim<T> | undefined> {
    const item = await getConsistent(this.client, this.tableName, { id: claimId(scope) });
    if (!item || Number(item[EXPIRES_AT]) <= now) return undefined;
    return {
      response: item.response as T,
      ...(typeof item.requestHash === 'string' ? { requestHash: item.requestHash } : {}),
    };
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
