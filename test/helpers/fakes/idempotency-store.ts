import type { ClaimedResponse, FoundClaim, IdempotencyScope } from '../../../core/idempotency.js';
import type { IdempotencyStore } from '../../../core/ports.js';
import { copy, type MemoryTables, type StoredClaim } from './tables.js';

/** A claim's key: its scope's parts, JSON-encoded as the adapter hashes them (the hash itself adds nothing here). */
export const claimKey = ({ operation, principal, resourceId, key }: IdempotencyScope) =>
  JSON.stringify([operation, principal.type, principal.id, resourceId, key]);

/** The claim Put's condition: the key is unclaimed, or its claim has expired by `now` (epoch seconds). */
export const claimable = (claim: StoredClaim | undefined, now: number) =>
  claim === undefined || claim.expiresAt <= now;

/**
 * IdempotencyStore in memory, as DynamoIdempotencyStore: `find` answers a claim unexpired at `now`;
 * `settle` and `release` act only while the claim names the execution. Not exact: no TTL, so an
 * expired claim stays (as it may in DynamoDB until TTL gets to it), which only `find` and the
 * claim's condition look past.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  constructor(private readonly db: MemoryTables) {}

  async find<T extends ClaimedResponse>(
    scope: IdempotencyScope,
    now: number,
  ): Promise<FoundClaim<T> | undefined> {
    const claim = this.db.claims.get(claimKey(scope));
    if (!claim || claim.expiresAt <= now) return undefined;
    return {
      response: copy(claim.response) as T,
      ...(claim.requestHash === undefined ? {} : { requestHash: claim.requestHash }),
    };
  }

  async settle<T extends ClaimedResponse>(scope: IdempotencyScope, response: T): Promise<void> {
    const claim = this.db.claims.get(claimKey(scope));
    if (claim?.response.executionId === response.executionId) claim.response = copy(response);
  }

  async release(scope: IdempotencyScope, executionId: string): Promise<void> {
    if (this.db.claims.get(claimKey(scope))?.response.executionId === executionId) {
      this.db.claims.delete(claimKey(scope));
    }
  }
}
