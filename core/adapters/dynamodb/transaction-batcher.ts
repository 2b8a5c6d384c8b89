import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type NamedItem, type TransactItems, transactWrite } from './client.js';
import { COUNTER_SHARDS, counterUpdate } from './counters.js';

/**
 * Group commit of transactions that would otherwise each be sent alone (the cron fires of a tick:
 * one TransactWriteItems of ~9 items each). While a batch is being written, the transactions that
 * arrive wait and go out together in the next one, up to TransactWriteItems' 100 items: with the
 * dispatcher's lanes busy, one request carries a dozen fires. DynamoDB's cost is per request as
 * much as per item (DynamoDB Local spends ~2.9 ms of CPU on a 9-item transaction, ~1.8 ms a fire in
 * one of 90 items; the SDK's cost is per request), and nothing waits on a timer: a transaction that
 * arrives with nothing in flight is sent at once.
 *
 * A batch is all or nothing, so every part keeps its own conditions and its exactly-once claim: if
 * the batch is refused (a part's condition, its size, a conflict left after the retries), each of
 * its parts is sent again alone and succeeds or fails on its own, as it would have unbatched. A
 * batch whose answer was lost (a timeout, a server error) may have been written: it is sent once
 * more with the same ClientRequestToken, which DynamoDB answers as written if it was, before its
 * parts go alone (which would each fail on what they themselves wrote, and be taken for stale).
 */

/** One transaction to be written, possibly with others. */
export interface BatchPart {
  /** Its items, none of which another part names (apart from `counters`). */
  items: readonly NamedItem[];
  /**
   * The counters it adds one to, by shard: the batch picks the shard, so the parts of one batch
   * share the global counters' items (merged into one ADD each; an item may appear only once).
   */
  counters(shard: number): readonly string[];
  /** Parts with the same key never share a batch (they write the same item, e.g. one schedule). */
  key: string;
}

/** Sends of a batch with one ClientRequestToken while its outcome is unknown: the first and one more. */
const OUTCOME_ATTEMPTS = 2;

/** A request DynamoDB refused as malformed (too large, invalid): nothing was written. */
const isClientFault = (error: unknown) => (error as { $fault?: string } | undefined)?.$fault === 'client';

/** TransactWriteItems' limit. */
const MAX_ITEMS = 100;
/**
 * Of the request's 4 MB of items, by the size of their JSON (which outweighs DynamoDB's measure of
 * an item), with room for the counters; a schedule's steps can be large (schedule-store.ts).
 */
const MAX_BYTES = 3_500_000;

interface Waiting {
  part: BatchPart;
  bytes: number;
  done: () => void;
  failed: (error: unknown) => void;
}

export class TransactionBatcher {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  /** Round robin, from a random start: the batches in flight at once never share a counter shard. */
  private shard = Math.floor(Math.random() * COUNTER_SHARDS);

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly countersTable: string,
    /**
     * A part written on its own (on counter shards of its own choosing), with the caller's reading of
     * a failure (e.g. StaleVersionError).
     */
    private readonly alone: (part: BatchPart) => Promise<void>,
    /** Batches written at once: a second overlaps the first's round trip. */
    private readonly maxInFlight = 2,
  ) {}

  /** Resolves once the part is written, rejects as `alone` would. */
  write(part: BatchPart): Promise<void> {
    const bytes = Buffer.byteLength(JSON.stringify(part.items));
    return new Promise((done, failed) => {
      this.waiting.push({ part, bytes, done, failed });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const shard = this.shard;
      this.shard = (shard + 1) % COUNTER_SHARDS;
      const batch = this.take(shard);
      this.inFlight += 1;
      void this.send(batch, shard).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /** The longest-waiting parts that fit one request together; the others keep their place. */
  private take(shard: number): Waiting[] {
    const batch: Waiting[] = [];
    const keys = new Set<string>();
    const counters = new Set<string>();
    let items = 0;
    let bytes = 0;
    const rest: Waiting[] = [];
    for (const waiting of this.waiting) {
      const { part } = waiting;
      const added = part.counters(shard).filter((id) => !counters.has(id));
      const fits =
        batch.length === 0 ||
        (!keys.has(part.key) &&
          items + part.items.length + added.length <= MAX_ITEMS &&
          bytes + waiting.bytes <= MAX_BYTES);
      if (!fits) {
        rest.push(waiting);
        continue;
      }
      batch.push(waiting);
      keys.add(part.key);
      for (const id of added) counters.add(id);
      items += part.items.length + added.length;
      bytes += waiting.bytes;
    }
    this.waiting = rest;
    return batch;
  }

  private async send(batch: readonly Waiting[], shard: number): Promise<void> {
    if (batch.length > 1 && (await this.written(this.itemsOf(batch, shard)))) {
      for (const waiting of batch) waiting.done();
      return;
    }
    // Which part failed, and whether the others would have, is for each alone to find out.
    await Promise.all(batch.map((waiting) => this.alone(waiting.part).then(waiting.done, waiting.failed)));
  }

  /** Whether the batch was written: false when it was refused, or its outcome stayed unknown. */
  private async written(items: TransactItems): Promise<boolean> {
    const token = randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        await transactWrite(this.client, items, token);
        return true;
      } catch (error) {
        const refused = error instanceof TransactionCanceledException || isClientFault(error);
        if (refused || attempt >= OUTCOME_ATTEMPTS) return false;
      }
    }
  }

  private itemsOf(batch: readonly Waiting[], shard: number) {
    const counts = new Map<string, number>();
    for (const { part } of batch) {
      for (const id of part.counters(shard)) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return [
      ...batch.flatMap(({ part }) => part.items.map(({ item }) => item)),
      ...[...counts].map(([id, n]) => counterUpdate(this.countersTable, id, n)),
    ];
  }
}
