import type { Clock } from './clock.js';

/**
 * Idempotency keys of the operations that start an execution (`POST /schedules/{id}/run`, and
 * `POST /schedule-executions/{id}/retry`). A key's claim is written in the same
 * transaction as the execution it started, so there is no moment when one exists without the
 * other: a crash cannot leave a key "in progress", and concurrent requests with one key make one
 * execution, the others reading its claim. Only runs that happened are claimed: a refused request
 * wrote nothing, so a retry with its key is decided afresh.
 */

/** How long a key is remembered after its first use (SPEC: 24 hours). */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

/**
 * What a key is scoped to: the caller, the operation and what it acts on. The same key from another
 * caller, or on another schedule, is another key. Run takes no body, so the scope is the request;
 * retry's `fromStepIndex` is not part of it (a replay answers the first retry, whatever it asked).
 */
export interface IdempotencyScope {
  operation: string;
  principal: { type: string; id: string };
  resourceId: string;
  key: string;
}

/** What a claim remembers: the response of a request that started an execution. */
export interface ClaimedResponse {
  executionId: string;
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
