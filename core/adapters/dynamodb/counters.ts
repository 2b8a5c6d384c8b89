import type { Execution } from '../../schemas/execution.js';

/**
 * Execution counts behind `totalCount`, kept in the Counters table by the writes that create, move
 * or forget an execution, in the same transaction as the execution itself.
 *
 * Every count is the sum of COUNTER_SHARDS items, and each write adds to one shard picked at random.
 * Two transactions that touch one item at the same time are refused with TransactionConflict, so a
 * single counter item would serialise every run and status change behind it; spread over shards, the
 * concurrent runs of one schedule (or of all) rarely meet. Reading a count is one BatchGetItem.
 *
 * Each execution sits in one "cell" (its status and initiatedByType): filtered lists sum the counts
 * of the cells they cover.
 */
export const COUNTER_SHARDS = 8;

const SHARDS = Array.from({ length: COUNTER_SHARDS }, (_, shard) => shard);

export const randomShard = () => Math.floor(Math.random() * COUNTER_SHARDS);

type Counted = Pick<Execution, 'scheduleId' | 'status' | 'initiatedByType'>;

/** The cell an execution counts in (also the partition key of the cell indexes). */
export const cellOf = (e: Pick<Execution, 'status' | 'initiatedByType'>) =>
  `${e.status}#${e.initiatedByType}`;

/** The global counts were sharded from the start: every shard has its number. */
const globalShard = (base: string) => (shard: number) => `${base}#${shard}`;
/**
 * A schedule's counts were single items before they were sharded: shard 0 keeps that id, so the
 * counts written by the earlier version are still part of the sum, with no migration.
 */
const scheduleShard = (base: string) => (shard: number) => (shard === 0 ? base : `${base}#${shard}`);

const total = globalShard('executions');
const cell = (c: string) => globalShard(`executions#cell#${c}`);
const schedule = (scheduleId: string) => scheduleShard(`executions#schedule#${scheduleId}`);
const scheduleCell = (scheduleId: string, c: string) =>
  scheduleShard(`executions#schedule#${scheduleId}#cell#${c}`);

/** The counters a status change moves an execution between: its cell's, globally and in its schedule. */
export const cellCounterIds = (e: Counted, shard: number) => [
  cell(cellOf(e))(shard),
  scheduleCell(e.scheduleId, cellOf(e))(shard),
];

/**
 * The counters every execution counts in from its creation on: the total and its schedule's.
 * (Executions from before the cells are in these, and in their cell's only once counted into it.)
 */
export const totalCounterIds = (e: Counted, shard: number) => [total(shard), schedule(e.scheduleId)(shard)];

/** Every counter an execution counts in (created or forgotten): the totals and its cell's. */
export const counterIdsOf = (e: Counted, shard: number) => [
  ...totalCounterIds(e, shard),
  ...cellCounterIds(e, shard),
];

/**
 * The counter items whose sum is the count of a list: of everything, of one schedule, or of the
 * given cells (of one schedule or of all).
 */
export function countedIds(scheduleId: string | undefined, cells: readonly string[] | undefined): string[] {
  const shards = cells
    ? cells.map((c) => (scheduleId ? scheduleCell(scheduleId, c) : cell(c)))
    : [scheduleId ? schedule(scheduleId) : total];
  return shards.flatMap((shardOf) => SHARDS.map(shardOf));
}

/** Adds `delta` to a counter, usable alone or inside a transaction. */
export const counterUpdate = (table: string, id: string, delta: number) => ({
  Update: {
    TableName: table,
    Key: { id },
    UpdateExpression: 'ADD #count :delta',
    ExpressionAttributeNames: { '#count': 'count' },
    ExpressionAttributeValues: { ':delta': delta },
  },
});
