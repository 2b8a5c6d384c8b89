import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../errors.js';
import { ExecutionStatus, InitiatedByType } from '../../model.js';
import { refusedPageToken } from '../../paging.js';
import type { ExecutionFilter, ExecutionPageRequest } from '../../ports.js';
import { cellOf } from './counters.js';
import { ALL_PK } from './execution-items.js';
import { ExecutionIndex, ExecutionSortKey } from './tables.js';

/**
 * How a list of executions is read: which index partitions hold a filter's executions, the key
 * condition of a from/to range in each, the cursor, and the merge of the partitions' keys in order.
 */

type Item = Record<string, unknown>;

/**
 * Widest queuedAt range whose totalCount is counted: a range has no counter, so its count reads the
 * keys in it (KEYS_ONLY, `Select: COUNT`, ~160 RCU at the cap), and a wider range is refused, not guessed.
 */
export const MAX_RANGE_COUNT = 10_000;

const ALL_EXECUTIONS_INDEX = {
  queuedAt: ExecutionIndex.allByQueuedAt,
  startedAt: ExecutionIndex.allByStartedAt,
  completedAt: ExecutionIndex.allByCompletedAt,
  status: ExecutionIndex.allByStatus,
} as const;

const PER_SCHEDULE_INDEX = {
  queuedAt: ExecutionIndex.scheduleByQueuedAt,
  startedAt: ExecutionIndex.scheduleByStartedAt,
  completedAt: ExecutionIndex.scheduleByCompletedAt,
  status: ExecutionIndex.scheduleByStatus,
} as const;

/** Where an index key is held, beside the key, during a merge: the value the merge orders by. */
const MERGE_KEY = 'm';

/** One partition of one index that a list reads; `prefix` + its sort key is the order across partitions. */
interface Partition {
  index: string;
  name: string;
  value: string;
  sortKey: string;
  prefix: string;
}

interface Bound {
  value: string;
  strict: boolean;
}

const narrowed = (filter: ExecutionFilter) =>
  filter.statuses !== undefined || filter.initiatedByType !== undefined;

/** The cells a filter covers: its statuses (or all) by its initiatedByType (or all). */
function cellsOf(filter: ExecutionFilter) {
  const statuses = filter.statuses ?? Object.values(ExecutionStatus);
  const types = filter.initiatedByType ? [filter.initiatedByType] : Object.values(InitiatedByType);
  return statuses.flatMap((status) => types.map((type) => ({ status, type })));
}

/** The cells whose counters a filter's count sums; undefined when it counts a schedule's or all. */
export const countedCells = (filter: ExecutionFilter): string[] | undefined =>
  narrowed(filter)
    ? cellsOf(filter).map(({ status, type }) => cellOf({ status, initiatedByType: type }))
    : undefined;

/**
 * The partitions that hold exactly the filter's executions, in an index sorted as asked. Cell
 * indexes are sorted by queuedAt only; a cell has one status, so by status#queuedAt too.
 */
function partitionsOf(filter: ExecutionFilter, sortBy: ExecutionPageRequest['sortBy']): Partition[] {
  const ranged = filter.from !== undefined || filter.to !== undefined;
  const { scheduleId } = filter;
  if (!narrowed(filter) && (!ranged || sortBy === 'queuedAt')) {
    return [
      {
        index: scheduleId ? PER_SCHEDULE_INDEX[sortBy] : ALL_EXECUTIONS_INDEX[sortBy],
        name: scheduleId ? 'scheduleId' : 'allPk',
        value: scheduleId ?? ALL_PK,
        sortKey: ExecutionSortKey[sortBy],
        prefix: '',
      },
    ];
  }
  if (sortBy !== 'queuedAt' && sortBy !== 'status') {
    throw new ValidationError({
      sortBy: [
        `Sorting by ${sortBy} cannot be combined with status, initiatedByType, from or to: use queuedAt or status`,
      ],
    });
  }
  return cellsOf(filter).map(({ status, type }) => {
    const cell = cellOf({ status, initiatedByType: type });
    return {
      index: scheduleId ? ExecutionIndex.scheduleCellByQueuedAt : ExecutionIndex.cellByQueuedAt,
      name: scheduleId ? 'scheduleCellPk' : 'cellPk',
      value: scheduleId ? `${scheduleId}#${cell}` : cell,
      sortKey: ExecutionSortKey.queuedAt,
      prefix: sortBy === 'status' ? `${status}#` : '',
    };
  });
}

/** from/to as bounds on kQueued (`queuedAt#id`): `to` takes in every id of its instant. */
function rangeOf(filter: ExecutionFilter): { lower?: Bound; upper?: Bound } {
  return {
    ...(filter.from !== undefined ? { lower: { value: filter.from, strict: false } } : {}),
    ...(filter.to !== undefined ? { upper: { value: `${filter.to}#~`, strict: false } } : {}),
  };
}

/**
 * The key condition of a partition between two bounds. A key condition has one sort-key clause, so
 * two bounds are a BETWEEN (inclusive), and `drop` lists the strict ends to leave out of the result.
 */
function keyCondition(partition: Partition, lower?: Bound, upper?: Bound) {
  const names = { '#pk': partition.name, '#sk': partition.sortKey };
  const values: Record<string, string> = { ':pk': partition.value };
  let clause = '';
  const drop: string[] = [];
  if (lower && upper) {
    clause = ' AND #sk BETWEEN :lo AND :hi';
    values[':lo'] = lower.value;
    values[':hi'] = upper.value;
    for (const bound of [lower, upper]) if (bound.strict) drop.push(bound.value);
  } else if (lower) {
    clause = ` AND #sk ${lower.strict ? '>' : '>='} :lo`;
    values[':lo'] = lower.value;
  } else if (upper) {
    clause = ` AND #sk ${upper.strict ? '<' : '<='} :hi`;
    values[':hi'] = upper.value;
  }
  return {
    IndexName: partition.index,
    KeyConditionExpression: `#pk = :pk${clause}`,
    ExpressionAttributeNames: clause ? names : { '#pk': partition.name },
    ExpressionAttributeValues: values,
    drop,
  };
}

/**
 * The cursor's position. Tokens are signed (core/paging.ts), so a cursor is one this store issued:
 * only one from an older version of the store, with another shape, is refused here.
 */
function checkCursor(cursor: Record<string, unknown>): string {
  const value = cursor[MERGE_KEY];
  if (Object.keys(cursor).length !== 1 || typeof value !== 'string' || value === '') {
    throw refusedPageToken();
  }
  return value;
}

/** The cursor after a key that {@link readKeys} returned: where the next page starts. */
export const cursorAfter = (key: Item): Record<string, unknown> => ({ [MERGE_KEY]: key[MERGE_KEY] });

/** Counts the index keys in the range, up to `maxRangeCount`: no counter knows a range. */
export async function countRange(
  client: DynamoDBDocumentClient,
  table: string,
  filter: ExecutionFilter,
  maxRangeCount: number,
): Promise<number> {
  let total = 0;
  const range = rangeOf(filter);
  await Promise.all(
    partitionsOf(filter, 'queuedAt').map(async (partition) => {
      // A range's bounds are inclusive: nothing to drop.
      const { drop: _drop, ...condition } = keyCondition(partition, range.lower, range.upper);
      let start: Item | undefined;
      do {
        const result = await client.send(
          new QueryCommand({
            TableName: table,
            ...condition,
            Select: 'COUNT',
            ExclusiveStartKey: start,
          }),
        );
        total += result.Count ?? 0;
        if (total > maxRangeCount) {
          const message = `The range holds more than ${maxRangeCount} executions, too many to count: narrow from/to`;
          throw new ValidationError({ from: [message], to: [message] });
        }
        start = result.LastEvaluatedKey;
      } while (start);
    }),
  );
  return total;
}

/**
 * Index keys in order, from the cursor (or the start) up to the end of the requested page: a merge
 * of the filter's partitions (one, unless the filter is a union of cells), each read only as far
 * as the merge needs it.
 */
export async function readKeys(
  client: DynamoDBDocumentClient,
  table: string,
  request: ExecutionPageRequest,
): Promise<Item[]> {
  const wanted = request.offset + request.pageSize;
  const descending = request.descending;
  const range = rangeOf(request);
  const after = request.cursor ? checkCursor(request.cursor) : undefined;
  const streams = partitionsOf(request, request.sortBy).flatMap((partition) => {
    let { lower, upper } = range;
    if (after !== undefined) {
      if (after.startsWith(partition.prefix)) {
        const bound = { value: after.slice(partition.prefix.length), strict: true };
        if (descending) upper = upper === undefined || bound.value <= upper.value ? bound : upper;
        else lower = lower === undefined || bound.value >= lower.value ? bound : lower;
      } else if (partition.prefix < after !== descending) {
        // The whole partition sorts on one side of the cursor, and that side is behind us.
        return [];
      }
    }
    // The cursor is past the range's far end: nothing of this partition is left.
    if (lower && upper && lower.value > upper.value) return [];
    const query = keyCondition(partition, lower, upper);
    return [{ partition, query, buffer: [] as Item[], start: undefined as Item | undefined, done: false }];
  });
  /** Reads on until the stream has a head or is exhausted: the merge must see every partition's next key. */
  const fill = async (stream: (typeof streams)[number], limit: number) => {
    const sortKey = stream.partition.sortKey;
    while (stream.buffer.length === 0 && !stream.done) {
      const { drop, ...condition } = stream.query;
      const result = await client.send(
        new QueryCommand({
          TableName: table,
          ...condition,
          ScanIndexForward: !descending,
          Limit: limit + drop.length,
          ExclusiveStartKey: stream.start,
        }),
      );
      for (const item of result.Items ?? []) {
        if (drop.includes(item[sortKey] as string)) continue;
        stream.buffer.push({
          ...item,
          [MERGE_KEY]: `${stream.partition.prefix}${item[sortKey] as string}`,
        });
      }
      stream.start = result.LastEvaluatedKey;
      stream.done = stream.start === undefined;
    }
  };
  const keys: Item[] = [];
  while (keys.length < wanted) {
    await Promise.all(streams.map((stream) => fill(stream, wanted - keys.length)));
    let best: (typeof streams)[number] | undefined;
    for (const stream of streams) {
      const head = stream.buffer[0]?.[MERGE_KEY] as string | undefined;
      if (head === undefined) continue;
      const bestHead = best?.buffer[0]?.[MERGE_KEY] as string | undefined;
      if (bestHead === undefined || (descending ? head > bestHead : head < bestHead)) best = stream;
    }
    if (!best) break;
    keys.push(best.buffer.shift() as Item);
  }
  return keys;
}
