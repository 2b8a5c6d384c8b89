import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkerRecord, WorkerStore } from '../../ports.js';
import { scanAll } from './client.js';
import { expiresAt } from './retention.js';
import { EXPIRES_AT, type TableNames } from './tables.js';

/** A worker not heard from for a day is forgotten (SPEC, Run insight). */
export const WORKER_EXPIRY_SECONDS = 86_400;

const workerKey = (claimedBy: string, workerId: string) => `${claimedBy}|${workerId}`;

/**
 * Workers, one item per credential and workerId, written with one unconditional UpdateItem by each
 * claim and heartbeat (no read first) and expiring a day after the last. Listed by a Scan of the
 * table, sorted here: the table holds only the workers of about a day (TTL), and with no index
 * each claim's write is 1 WRU; an index sorted by lastSeenAt would move its key on every write
 * (a delete and a put in the index: 3 WRU), which is most of an idle worker's DynamoDB cost.
 */
export class DynamoWorkerStore implements WorkerStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: TableNames['workers'],
  ) {}

  async seen(
    worker: Pick<WorkerRecord, 'workerId' | 'claimedBy' | 'lastSeenAt'>,
    claim: Pick<WorkerRecord, 'pools' | 'waitSeconds'> | { fallbackPools: string[] },
  ): Promise<void> {
    const fromClaim = 'pools' in claim;
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { id: workerKey(worker.claimedBy, worker.workerId) },
        UpdateExpression: [
          'SET workerId = :workerId, claimedBy = :claimedBy',
          'lastSeenAt = :seen',
          `#expires = :expires`,
          fromClaim
            ? 'pools = :pools, waitSeconds = :wait'
            : 'pools = if_not_exists(pools, :pools), waitSeconds = if_not_exists(waitSeconds, :wait)',
        ].join(', '),
        ExpressionAttributeNames: { '#expires': EXPIRES_AT },
        ExpressionAttributeValues: {
          ':workerId': worker.workerId,
          ':claimedBy': worker.claimedBy,
          ':seen': worker.lastSeenAt,
          ':expires': expiresAt(worker.lastSeenAt, WORKER_EXPIRY_SECONDS),
          ':pools': fromClaim ? claim.pools : claim.fallbackPools,
          ':wait': fromClaim ? claim.waitSeconds : 0,
        },
      }),
    );
  }

  async seenSince(since: string): Promise<WorkerRecord[]> {
    const items = await scanAll(this.client, {
      TableName: this.table,
      // Also drops items past their TTL that DynamoDB has not deleted yet (it may take a day or two).
      FilterExpression: 'lastSeenAt >= :since',
      ExpressionAttributeValues: { ':since': since },
    });
    return items
      .map((item) => ({
        workerId: item.workerId as string,
        claimedBy: item.claimedBy as string,
        pools: (item.pools ?? []) as string[],
        waitSeconds: (item.waitSeconds ?? 0) as number,
        lastSeenAt: item.lastSeenAt as string,
      }))
      .sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt));
  }
}
