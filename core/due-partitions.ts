/**
 * Due cron schedules are split into partitions by id. Each partition is dispatched by its own
 * invocation (one EventBridge target each), so a minute with thousands of due schedules is spread over
 * that many functions, and each partition is a partition key of its own in the due index, so the
 * index writes of a busy minute do not all land on one key.
 */
export const DUE_PARTITIONS = 4;

/** The partition of a schedule: a stable hash of its id. */
export const duePartitionOf = (scheduleId: string): number =>
  [...scheduleId].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) >>> 0, 7) % DUE_PARTITIONS;

export const ALL_DUE_PARTITIONS: readonly number[] = Array.from({ length: DUE_PARTITIONS }, (_, p) => p);
