import type { ClaimedResponse } from '../../../core/idempotency.js';
import type {
  ExecutionStepRecord,
  ScheduleRecord,
  StoredApiKey,
  WorkerRecord,
  WorkerTask,
} from '../../../core/ports.js';
import type { Execution } from '../../../core/schemas/execution.js';

/**
 * What the in-memory stores hold between them: the items of the DynamoDB tables, one map a table
 * (or a kind of item), shared by the stores the way the tables are (an execution's create writes on
 * its schedule and the idempotency claims; a worker task's claim moves its step).
 *
 * Every write stores a copy and every read returns one, through JSON as the document client does
 * (`removeUndefinedValues`): a caller that mutates what it read or wrote changes nothing stored.
 * Each method runs to its end without awaiting anything, so it is atomic, as the transactions are.
 */
export class MemoryTables {
  readonly schedules = new Map<string, ScheduleRecord>();
  /** Name reservations (`name#<lowercased trimmed name>` items): name key → schedule id. */
  readonly scheduleNames = new Map<string, string>();
  readonly executions = new Map<string, Execution>();
  /** The parkToken attribute of the execution items. */
  readonly parkTokens = new Map<string, string>();
  readonly steps = new Map<string, Map<number, ExecutionStepRecord>>();
  /** The Counters table, summed over its shards (the fakes keep one item a counter). */
  readonly counters = new Map<string, number>();
  /** `forgotten#<id>` markers of the Counters table. */
  readonly forgotten = new Set<string>();
  readonly claims = new Map<string, StoredClaim>();
  readonly tasks = new Map<string, WorkerTask>();
  /** Claim receipts: receipt key → task ids, in claim order. */
  readonly receipts = new Map<string, string[]>();
  /** Workers by `claimedBy|workerId`. */
  readonly workers = new Map<string, WorkerRecord>();
  /** API keys by hash. */
  readonly apiKeys = new Map<string, StoredApiKey>();
}

export interface StoredClaim {
  operation: string;
  resourceId: string;
  requestHash?: string;
  response: ClaimedResponse;
  createdAt: number;
  expiresAt: number;
}

/** A copy as a DynamoDB round trip makes it: undefined attributes are not stored. */
export const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** `SET` of the defined fields of a patch (undefined ones are skipped, as `setExpression` does). */
export function applyPatch<T extends object>(item: T, patch: object): T {
  const next = { ...item };
  for (const [field, value] of Object.entries(patch)) {
    if (value !== undefined) (next as Record<string, unknown>)[field] = copy(value);
  }
  return next;
}

/** A conditional single write that failed, as the SDK throws it (the callers that map it do). */
export class ConditionalCheckFailed extends Error {
  override readonly name = 'ConditionalCheckFailedException';
}

/** The items of `ids` that `table` holds, each read through `read`, by id: the ports' getMany. */
export function readMany<T, R>(
  table: ReadonlyMap<string, T>,
  ids: readonly string[],
  read: (item: T) => R,
): Map<string, R> {
  const found = new Map<string, R>();
  for (const id of ids) {
    const item = table.get(id);
    if (item) found.set(id, read(item));
  }
  return found;
}
