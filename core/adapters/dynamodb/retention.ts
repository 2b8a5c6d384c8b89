/** How long what the stores write is kept: the values of the tables' TTL attribute (`EXPIRES_AT`). */

/** Executions are kept 90 days after they end unless configured otherwise (SPEC). */
export const DEFAULT_RETENTION_SECONDS = 90 * 86_400;

/** The TTL value (epoch seconds) of something that ended at `endedAt` (now when unknown). */
export const expiresAt = (endedAt: string | null | undefined, retentionSeconds: number): number =>
  Math.floor((endedAt ? Date.parse(endedAt) : Date.now()) / 1000) + retentionSeconds;

/**
 * How long the marker of a forgotten execution is kept: longer than its removal can come back. A
 * stream keeps a record 24 hours, and every retry, split or replay of a batch reads it from there.
 */
export const FORGOTTEN_RETENTION_SECONDS = 14 * 86_400;
