/**
 * What the domain reads the time from; tests move it by hand. Its own module (ports.ts re-exports it)
 * so that modules ports.ts itself imports, such as idempotency.ts, read the time without importing it back.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
