import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyStore, StoredApiKey } from '../../ports.js';
import { getConsistent, queryAll, transactWrite } from './client.js';
import { ApiKeyIndex } from './tables.js';

const LIST_PK = 'APIKEY';

/**
 * The key item's primary key is its hash (what the authorizer has). Revoking has only the id, and
 * the by-id index is eventually consistent: a revoke right after a create could miss the key,
 * answer 404 and leave it valid. So each key has a second item, keyed by its id, naming the hash,
 * read consistently. Hashes are hex, so `id#…` never collides with a key item.
 */
const idItemKey = (id: string) => ({ keyHash: `id#${id}` });

/** API keys, keyed by the key's hash so the authorizer finds a key with one consistent GetItem. */
export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async findByHash(keyHash: string): Promise<StoredApiKey | undefined> {
    const item = await getConsistent(this.client, this.tableName, { keyHash });
    return item ? toKey(item) : undefined;
  }

  async create(key: StoredApiKey): Promise<void> {
    // Together, so a key that can authenticate can always be revoked.
    await transactWrite(this.client, [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...key, listPk: LIST_PK },
          ConditionExpression: 'attribute_not_exists(keyHash)',
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...idItemKey(key.id), hashOfKey: key.keyHash },
          ConditionExpression: 'attribute_not_exists(keyHash)',
        },
      },
    ]);
  }

  async listAll(): Promise<StoredApiKey[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: ApiKeyIndex.allByCreated,
      KeyConditionExpression: 'listPk = :pk',
      ExpressionAttributeValues: { ':pk': LIST_PK },
    });
    return items.map(toKey);
  }

  async delete(id: string): Promise<boolean> {
    const keyHash = await this.hashOf(id);
    if (keyHash === undefined) return false;
    // Deleting the key item is the revocation: the authorizer's consistent read stops finding it at once.
    await transactWrite(this.client, [
      { Delete: { TableName: this.tableName, Key: { keyHash } } },
      { Delete: { TableName: this.tableName, Key: idItemKey(id) } },
    ]);
    return true;
  }

  private async hashOf(id: string): Promise<string | undefined> {
    const item = await getConsistent(this.client, this.tableName, idItemKey(id));
    if (typeof item?.hashOfKey === 'string') return item.hashOfKey;
    // Keys created before the id items existed have none; they were indexed long ago, so the
    // index finds them. A key created since always has its id item, so it never gets here.
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: ApiKeyIndex.byId,
        KeyConditionExpression: 'id = :id',
        ExpressionAttributeValues: { ':id': id },
      }),
    );
    const legacy = Items?.[0]?.keyHash;
    return typeof legacy === 'string' ? legacy : undefined;
  }
}

function toKey(item: Record<string, unknown>): StoredApiKey {
  const { listPk: _listPk, ...key } = item;
  // Keys stored before `pools` existed serve every pool, as a key created without them does.
  return {
    ...(key as unknown as StoredApiKey),
    expiresAt: (key.expiresAt as string | undefined) ?? null,
    pools: (key.pools as string[] | undefined) ?? null,
  };
}
