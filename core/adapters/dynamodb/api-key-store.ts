import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyStore, StoredApiKey } from '../../ports.js';
import { queryAll } from './client.js';

const LIST_PK = 'APIKEY';

/** API keys, keyed by the key's hash so the authorizer finds a key with one consistent GetItem. */
export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async findByHash(keyHash: string): Promise<StoredApiKey | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { keyHash }, ConsistentRead: true }),
    );
    return Item ? toKey(Item) : undefined;
  }

  async create(key: StoredApiKey): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...key, listPk: LIST_PK },
        ConditionExpression: 'attribute_not_exists(keyHash)',
      }),
    );
  }

  async listAll(): Promise<StoredApiKey[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: 'all-created',
      KeyConditionExpression: 'listPk = :pk',
      ExpressionAttributeValues: { ':pk': LIST_PK },
    });
    return items.map(toKey);
  }

  async delete(id: string): Promise<boolean> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'by-id',
        KeyConditionExpression: 'id = :id',
        ExpressionAttributeValues: { ':id': id },
      }),
    );
    const keyHash = Items?.[0]?.keyHash;
    if (typeof keyHash !== 'string') return false;
    // Deleting the item is the revocation: the authorizer's consistent read stops finding it at once.
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { keyHash } }));
    return true;
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
