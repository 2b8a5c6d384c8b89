import type { ApiKeyStore, StoredApiKey } from '../../../core/ports.js';
import { copy, type MemoryTables } from './tables.js';

/** A transaction refused on a condition, as the SDK's TransactionCanceledException (the adapter lets it through). */
export class TransactionCanceled extends Error {
  override readonly name = 'TransactionCanceledException';
}

/**
 * ApiKeyStore in memory, as DynamoApiKeyStore: a key whose hash or id is taken is refused (the
 * adapter's transaction is cancelled, an error it does not map; here a TransactionCanceled), keys
 * stored without `expiresAt` or `pools` read as null. Not exact: listAll reads an eventually
 * consistent index in DynamoDB (ordered by `created`), here always current.
 */
export class MemoryApiKeyStore implements ApiKeyStore {
  constructor(private readonly db: MemoryTables) {}

  async findByHash(keyHash: string): Promise<StoredApiKey | undefined> {
    const key = this.db.apiKeys.get(keyHash);
    return key && toKey(key);
  }

  async create(key: StoredApiKey): Promise<void> {
    const taken = [...this.db.apiKeys.values()].some((k) => k.keyHash === key.keyHash || k.id === key.id);
    if (taken) throw new TransactionCanceled('Transaction cancelled: ConditionalCheckFailed');
    this.db.apiKeys.set(key.keyHash, copy(key));
  }

  async listAll(): Promise<StoredApiKey[]> {
    return [...this.db.apiKeys.values()].sort((a, b) => a.created.localeCompare(b.created)).map(toKey);
  }

  async delete(id: string): Promise<boolean> {
    const key = [...this.db.apiKeys.values()].find((k) => k.id === id);
    if (!key) return false;
    this.db.apiKeys.delete(key.keyHash);
    return true;
  }
}

function toKey(key: StoredApiKey): StoredApiKey {
  return { ...copy(key), expiresAt: key.expiresAt ?? null, pools: key.pools ?? null };
}
