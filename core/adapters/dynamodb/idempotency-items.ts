import { createHash } from 'node:crypto';
import type { ClaimedResponse, IdempotencyClaim, IdempotencyScope } from '../../idempotency.js';
import { EXPIRES_AT } from './tables.js';

/**
 * The IdempotencyKeys table's item. Its own module, not the idempotency store's: a claim is written
 * by the execution store, in the transaction that creates the execution the request started, so the
 * key is claimed exactly when the execution exists; the idempotency store reads and settles it.
 */

/**
 * A claim's item id: a hash of its scope. The parts are JSON-encoded, so no principal id or key
 * (any printable character, `#` too) can run into the next part, and the caller's key is not stored.
 */
export const claimId = ({ operation, principal, resourceId, key }: IdempotencyScope) =>
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
        // The first request's digest: the key sent again with another request is refused.
        ...(claim.scope.requestHash === undefined ? {} : { requestHash: claim.scope.requestHash }),
        createdAt: claim.createdAt,
        [EXPIRES_AT]: claim.expiresAt,
      },
      ConditionExpression: 'attribute_not_exists(id) OR #expiresAt <= :now',
      ExpressionAttributeNames: { '#expiresAt': EXPIRES_AT },
      ExpressionAttributeValues: { ':now': claim.createdAt },
    },
  };
}
