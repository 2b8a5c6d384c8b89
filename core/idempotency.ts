import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import { IdempotencyKeyReusedError } from './errors.js';

/**
 * Idempotency keys of the operations that start an execution (`POST /schedules/{id}/run`, and
 * `POST /schedule-executions/{id}/retry`). A key's claim is written in the same
 * transaction as the execution it started, so there is no moment when one exists without the
 * other: a crash cannot leave a key "in progress", and concurrent requests with one key make one
 * execution, the others reading its claim. Only runs that happened are claimed: a refused request
 * wrote nothing, so a retry with its key is decided afresh. A claim remembers a digest of the request
 * too: the key sent again with another request (a retry from another stage) is refused, not replayed.
 */

/** How long a key is remembered after its first use (SPEC: 24 hours). */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

/**
 * What a key is scoped to: the caller, the operation and what it acts on. The same key from another
 * caller, or on another schedule, is another key. What else the request asks (retry's
 * `fromStepIndex`) is not part of the key but of its `requestHash`.
 */
export interface IdempotencyScope {
  operation: string;
  principal: { type: string; id: string };
  resourceId: string;
  key: string;
  /**
   * Not part of the key: the {@link requestHash} of the request it is used with. The claim keeps
   * the first request's; absent (a claim written before requests were hashed), any request replays.
   */
  requestHash?: string;
}

/** What a claim remembers: the response of a request that started an execution. */
export interface ClaimedResponse {
  executionId: string;
}

/** A claim as the store reads it back: the response to replay, and the request it answered. */
export interface FoundClaim<T extends ClaimedResponse> {
  response: T;
  requestHash?: string;
}

/**
 * A digest of what a request asks beyond its scope (its body's fields), the same whatever the order
 * of the fields; a field left out and one sent as undefined are the same request.
 */
export function requestHash(request: Readonly<Record<string, unknown>>): string {
  const fields = Object.entries(request)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url');
}

/**
 * The response to replay for a request whose key was claimed: the claim's, when the request is the
 * one the key was first used with.
 *
 * @throws IdempotencyKeyReusedError (409 CONFLICT) when it is another request.
 */
export function replayOf<T extends ClaimedResponse>(found: FoundClaim<T>, scope: IdempotencyScope): T {
  if (found.requestHash !== undefined && found.requestHash !== scope.requestHash) {
    throw new IdempotencyKeyReusedError(
      `Idempotency-Key '${scope.key}' was already used with a different request (it started execution ` +
        `'${found.response.executionId}'); send a new key for a new request.`,
      { executionId: found.response.executionId },
    );
  }
  return found.response;
}

/** A key's claim on the result of the request that first used it, until `expiresAt`. */
export interface IdempotencyClaim<T extends ClaimedResponse> {
  scope: IdempotencyScope;
  response: T;
  /** Epoch seconds. */
  createdAt: number;
  /** Epoch seconds; from then on the key is free again (TTL removes the record later). */
  expiresAt: number;
}

const epochSeconds = (clock: Clock) => Math.floor(clock.now().getTime() / 1000);

export function claimOf<T extends ClaimedResponse>(
  scope: IdempotencyScope,
  response: T,
  clock: Clock,
): IdempotencyClaim<T> {
  const createdAt = epochSeconds(clock);
  return { scope, response, createdAt, expiresAt: createdAt + IDEMPOTENCY_WINDOW_SECONDS };
}

/** The time a claim is judged at: one whose `expiresAt` is not after it has expired. */
export const claimTime = epochSeconds;

/** A result, and whether it is the replay of an earlier request's (`Idempotent-Replayed`). */
export type Replayable<T> = T & { replayed?: true };
