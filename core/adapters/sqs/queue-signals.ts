import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueuedSignal, QueueSignals } from '../../ports.js';

/** SQS queue names: at most 80 letters, digits, hyphens and underscores. */
const MAX_QUEUE_NAME = 80;
/** What the name keeps of the pool's hash: distinct pools that sanitise alike still get distinct queues. */
const HASH_CHARS = 10;
/** Leaves the pool at least 20 characters of its own name. */
export const MAX_QUEUE_PREFIX = MAX_QUEUE_NAME - HASH_CHARS - 1 - 20;
/** ReceiveMessage waits at most 20 s and answers at most 10 messages. */
const MAX_RECEIVE_SECONDS = 20;
const MAX_RECEIVE_MESSAGES = 10;
/** A batch request carries at most 10 entries. */
const MAX_BATCH_ENTRIES = 10;

/**
 * Every queue is made with these (CreateQueue answers the existing queue when they match). A signal
 * a claim received but did not drop (it died, or another pool's signal answered first) comes again
 * after 30 s, by when the claims' own look at the table has found its task; one older than a minute
 * (SQS's shortest retention) is worth nothing.
 */
export const SIGNAL_QUEUE_ATTRIBUTES = {
  VisibilityTimeout: '30',
  MessageRetentionPeriod: '60',
  SqsManagedSseEnabled: 'true',
} as const;

/** The queue of `pool`: the prefix, the pool's name made safe and cut short, and a hash of the whole name. */
export function signalQueueName(prefix: string, pool: string): string {
  const hash = createHash('sha256').update(pool).digest('hex').slice(0, HASH_CHARS);
  const room = MAX_QUEUE_NAME - prefix.length - HASH_CHARS - 1;
  return `${prefix}${pool.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, room)}-${hash}`;
}

/**
 * Wake-ups for waiting claims over SQS: one standard queue per pool (pools are free-form, so each
 * queue is created on first use), one message per queued task, its body the task id. A waiting
 * claim long-polls its pools' queues; SQS hands each message to one receiver, so one task wakes one
 * claim, not every claim of the pool.
 */
export class SqsQueueSignals implements QueueSignals {
  private readonly urls = new Map<string, Promise<string>>();
  readonly lifetimeMs = Number(SIGNAL_QUEUE_ATTRIBUTES.MessageRetentionPeriod) * 1000;

  constructor(
    private readonly client: SQSClient,
    /** Names every queue (the stack's IAM grants cover `<prefix>*` only). */
    private readonly prefix: string,
  ) {
    if (!/^[A-Za-z0-9_-]+$/.test(prefix) || prefix.length > MAX_QUEUE_PREFIX) {
      throw new Error(`Queue prefix '${prefix}': 1 to ${MAX_QUEUE_PREFIX} letters, digits, - or _.`);
    }
  }

  async queued(pool: string, taskId: string): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: await this.urlOf(pool), MessageBody: taskId }));
  }

  async waiting(pools: readonly string[], max: number): Promise<QueuedSignal[]> {
    // One pool after the other, each asked for what is still wanted: received together, the
    // signals past `max` would stay hidden from every claim until their visibility lapsed.
    const found: QueuedSignal[] = [];
    for (const pool of pools) {
      if (found.length >= max) break;
      found.push(...(await this.receive(pool, 0, max - found.length)));
    }
    return found;
  }

  async next(pools: readonly string[], waitMs: number, max: number): Promise<QueuedSignal[]> {
    // Whole seconds, rounded up: a claim may answer up to a second past its wait, never miss a signal.
    const waitSeconds = Math.min(MAX_RECEIVE_SECONDS, Math.max(0, Math.ceil(waitMs / 1000)));
    const stop = new AbortController();
    const receives = pools.map((pool) => this.receive(pool, waitSeconds, max, stop.signal));
    // The first pool with signals answers; the other receives are stopped (what they had taken
    // comes again after the visibility timeout).
    return new Promise((resolve, reject) => {
      let pending = receives.length;
      if (pending === 0) resolve([]);
      for (const receive of receives) {
        receive.then(
          (signals) => {
            pending -= 1;
            if (signals.length > 0 || pending === 0) {
              stop.abort();
              resolve(signals);
            }
          },
          (error: unknown) => {
            pending -= 1;
            if (stop.signal.aborted) return;
            stop.abort();
            reject(error);
          },
        );
      }
    });
  }

  private async receive(
    pool: string,
    waitSeconds: number,
    max: number,
    abortSignal?: AbortSignal,
  ): Promise<QueuedSignal[]> {
    const { Messages } = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: await this.urlOf(pool),
        MaxNumberOfMessages: Math.min(MAX_RECEIVE_MESSAGES, Math.max(1, max)),
        WaitTimeSeconds: waitSeconds,
      }),
      { abortSignal },
    );
    return (Messages ?? []).flatMap((message) =>
      message.Body && message.ReceiptHandle
        ? [{ pool, taskId: message.Body, receipt: message.ReceiptHandle }]
        : [],
    );
  }

  async done(signals: readonly QueuedSignal[]): Promise<void> {
    // A claim's signals in one request per pool and ten (DeleteMessageBatch, which IAM authorises
    // as sqs:DeleteMessage), where a DeleteMessage each took as many.
    const byPool = new Map<string, QueuedSignal[]>();
    for (const signal of signals) byPool.set(signal.pool, [...(byPool.get(signal.pool) ?? []), signal]);
    const batches = [...byPool].flatMap(([pool, ofPool]) =>
      Array.from({ length: Math.ceil(ofPool.length / MAX_BATCH_ENTRIES) }, (_, n) => ({
        pool,
        signals: ofPool.slice(n * MAX_BATCH_ENTRIES, (n + 1) * MAX_BATCH_ENTRIES),
      })),
    );
    const failed = await Promise.all(
      batches.map(async ({ pool, signals: batch }) => {
        const { Failed } = await this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: await this.urlOf(pool),
            Entries: batch.map(({ receipt }, i) => ({ Id: String(i), ReceiptHandle: receipt })),
          }),
        );
        return Failed ?? [];
      }),
    );
    // Answered 200 with entries failed: those signals come again; the caller reports it.
    const codes = failed.flat().map((entry) => entry.Code ?? 'unknown');
    if (codes.length > 0) throw new Error(`${codes.length} signal(s) not dropped: ${codes.join(', ')}.`);
  }

  /** The pool's queue URL, its queue created on first use (once per process and pool; idempotent). */
  private urlOf(pool: string): Promise<string> {
    let url = this.urls.get(pool);
    if (!url) {
      url = this.client
        .send(
          new CreateQueueCommand({
            QueueName: signalQueueName(this.prefix, pool),
            Attributes: SIGNAL_QUEUE_ATTRIBUTES,
          }),
        )
        .then(({ QueueUrl }) => {
          if (!QueueUrl) throw new Error(`CreateQueue answered no URL for pool '${pool}'.`);
          return QueueUrl;
        });
      // A failure is not kept: the next call tries again.
      url.catch(() => this.urls.delete(pool));
      this.urls.set(pool, url);
    }
    return url;
  }
}
