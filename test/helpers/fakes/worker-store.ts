import type { WorkerRecord, WorkerStore } from '../../../core/ports.js';
import { copy, type MemoryTables } from './tables.js';

/**
 * WorkerStore in memory, as DynamoWorkerStore: one record per credential and workerId, a claim
 * replaces pools and waitSeconds, a heartbeat keeps them (or starts from its task's pool). Where it
 * is not exact: the adapter's list is an eventually consistent Scan; here it is current.
 */
export class MemoryWorkerStore implements WorkerStore {
  constructor(private readonly db: MemoryTables) {}

  async seen(
    worker: Pick<WorkerRecord, 'workerId' | 'claimedBy' | 'lastSeenAt'>,
    claim: Pick<WorkerRecord, 'pools' | 'waitSeconds'> | { fallbackPools: string[] },
  ): Promise<void> {
    const key = `${worker.claimedBy}|${worker.workerId}`;
    const previous = this.db.workers.get(key);
    const kept =
      'pools' in claim
        ? { pools: claim.pools, waitSeconds: claim.waitSeconds }
        : { pools: previous?.pools ?? claim.fallbackPools, waitSeconds: previous?.waitSeconds ?? 0 };
    this.db.workers.set(key, copy({ ...worker, ...kept }));
  }

  async seenSince(since: string): Promise<WorkerRecord[]> {
    return [...this.db.workers.values()]
      .filter((worker) => worker.lastSeenAt >= since)
      .sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt))
      .map(copy);
  }
}
