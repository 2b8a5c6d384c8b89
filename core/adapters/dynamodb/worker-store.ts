import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkerRecord, WorkerStore } from '../../ports.js';
import { queryAll } from './client.js';
import { expiresAt } from './retention.js';
import { EXPIRES_AT, type TableNames, WorkerIndex } from './tables.js';

/** A worker not heard from for a day is forgotten (SPEC, Run insight). */
export const WORKER_EXPIRY_SECONDS = 86_400;
const LIST_PK = 'WORKERS';

const workerKey = (claimedBy: string, workerId: string) => `${claimedBy}|${workerId}`;

/**
 * Workers, one item per credential and workerId, written with one unconditional UpdateItem by each
 * claim and heartbeat (no read first) and expiring a day after the last. Listed by a Query of the
 * all-lastSeen index (one fixed partition: a few writes a worker a minute stay far below a
 * partition's 1,000 a second), from the oldest lastSeenAt that still counts.
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
          'SET workerId = :workerId, claimedBy = :claimedBy, listPk = :list',
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
          ':list': LIST_PK,
          ':seen': worker.lastSeenAt,
          ':expires': expiresAt(worker.lastSeenAt, WORKER_EXPIRY_SECONDS),
          ':pools': fromClaim ? claim.pools : claim.fallbackPools,
          ':wait': fromClaim ? claim.waitSeconds : 0,
        },
      }),
    );
  }

  async seenSince(since: string): Promise<WorkerRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.table,
      IndexName: WorkerIndex.allBySeen,
      KeyConditionExpression: 'listPk = :list AND lastSeenAt >= :since',
      ExpressionAttributeValues: { ':list': LIST_PK, ':since': since },
      ScanIndexForward: false,
    });
    return items.map((item) => ({
      workerId: item.workerId as string,
      claimedBy: item.claimedBy as string,
      pools: (item.pools ?? []) as string[],
      waitSeconds: (item.waitSeconds ?? 0) as number,
      lastSeenAt: item.lastSeenAt as string,
    }));
  }
}
