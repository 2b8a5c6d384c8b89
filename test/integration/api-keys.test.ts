import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../core/adapters/dynamodb/api-key-store.js';
import { NotFoundError } from '../../core/errors.js';
import { hashApiKey } from '../../core/services/api-keys.js';
import { createServices, type Services } from '../../core/services/index.js';
import { freshTables, recordRequests } from '../helpers/dynamodb.js';
import { RecordingWorkflow } from '../helpers/recording-workflow.js';
import { MINUTE, TestClock } from './fixtures.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const HOUR = 60 * MINUTE;

describe('ApiKeyService', () => {
  let clock: TestClock;
  let services: Services;
  let storeItem: (item: Record<string, unknown>) => Promise<unknown>;

  beforeEach(async () => {
    const { tables, client } = await freshTables();
    storeItem = (item) => client.send(new PutCommand({ TableName: tables.apiKeys, Item: item }));
    clock = new TestClock('2026-06-01T08:00:00.000Z');
    services = createServices(client, tables, { clock: clock, workflow: new RecordingWorkflow() });
  });

  it('shows the key once at creation, with a recognisable prefix', async () => {
    // Act
    const created = await services.apiKeys.create({ name: 'ci', roles: ['Administrator'] });

    // Assert
    expect(created).toEqual({
      id: expect.stringMatching(GUID),
      name: 'ci',
      roles: ['Administrator'],
      keyPrefix: created.key.slice(0, 10),
      created: '2026-06-01T08:00:00.000Z',
      expiresAt: null,
      pools: null,
      key: expect.stringMatching(/^sek_[A-Za-z0-9_-]{43}$/),
    });
  });

  it('issues a different key every time', async () => {
    const first = await services.apiKeys.create({ name: 'a', roles: ['Worker'] });
    const second = await services.apiKeys.create({ name: 'a', roles: ['Worker'] });

    expect(first.key).not.toBe(second.key);
    expect(first.id).not.toBe(second.id);
  });

  it('lists keys oldest first without the key or its hash', async () => {
    // Arrange
    const created = [];
    for (const name of ['first', 'second', 'third']) {
      created.push(await services.apiKeys.create({ name, roles: ['Worker'] }));
      clock.advance(MINUTE);
    }

    // Act
    const page = await services.apiKeys.list(1, 20);

    // Assert
    expect(page.items.map((key) => key.name)).toEqual(['first', 'second', 'third']);
    expect(page.totalCount).toBe(3);
    for (const item of page.items) {
      expect(Object.keys(item).sort()).toEqual([
        'created',
        'expiresAt',
        'id',
        'keyPrefix',
        'name',
        'pools',
        'roles',
      ]);
    }
    const text = JSON.stringify(page);
    for (const { key } of created) expect(text).not.toContain(key);
  });

  it('pages the list', async () => {
    // Arrange
    for (const name of ['a', 'b', 'c']) {
      await services.apiKeys.create({ name, roles: ['Worker'] });
      clock.advance(MINUTE);
    }

    // Act
    const second = await services.apiKeys.list(2, 2);

    // Assert
    expect(second.items.map((key) => key.name)).toEqual(['c']);
    expect(second).toMatchObject({ totalCount: 3, totalPages: 2, hasNextPage: false, hasPreviousPage: true });
  });

  it('authenticates a valid key as the ApiKey principal with its roles', async () => {
    // Arrange
    const created = await services.apiKeys.create({ name: 'automation', roles: ['Administrator', 'Worker'] });

    // Act
    const principal = await services.apiKeys.authenticate(created.key);

    // Assert
    expect(principal).toEqual({
      type: 'ApiKey',
      id: created.id,
      name: 'automation',
      roles: ['Administrator', 'Worker'],
    });
  });

  it('keeps the pools a Worker key may serve: in its view, the list, and its principal', async () => {
    // Arrange
    const created = await services.apiKeys.create({
      name: 'east',
      roles: ['Worker'],
      pools: ['east', 'gpu'],
    });

    // Act
    const listed = (await services.apiKeys.list(1, 20)).items[0];
    const principal = await services.apiKeys.authenticate(created.key);

    // Assert
    expect(created.pools).toEqual(['east', 'gpu']);
    expect(listed?.pools).toEqual(['east', 'gpu']);
    expect(principal).toEqual({
      type: 'ApiKey',
      id: created.id,
      name: 'east',
      roles: ['Worker'],
      pools: ['east', 'gpu'],
    });
  });

  it('reads a key stored before pools existed as serving every pool', async () => {
    // Arrange: the item as the service wrote keys until then, without a pools attribute.
    await storeItem({
      keyHash: hashApiKey('sek_from-before-pools'),
      listPk: 'APIKEY',
      id: UNKNOWN_ID,
      name: 'old worker',
      roles: ['Worker'],
      keyPrefix: 'sek_from-b',
      created: '2026-01-01T00:00:00.000Z',
      expiresAt: null,
    });

    // Act
    const listed = (await services.apiKeys.list(1, 20)).items[0];
    const principal = await services.apiKeys.authenticate('sek_from-before-pools');

    // Assert
    expect(listed?.pools).toBeNull();
    expect(principal).toEqual({ type: 'ApiKey', id: UNKNOWN_ID, name: 'old worker', roles: ['Worker'] });
  });

  it.each(['sek_not-a-real-key', '', 'Bearer x'])('does not authenticate the unknown key %j', async (key) => {
    await services.apiKeys.create({ name: 'real', roles: ['Administrator'] });

    expect(await services.apiKeys.authenticate(key)).toBeUndefined();
  });

  it('does not authenticate a key that differs from a real one by its last character', async () => {
    // Arrange
    const { key } = await services.apiKeys.create({ name: 'real', roles: ['Administrator'] });
    const almost = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

    // Act / Assert
    expect(await services.apiKeys.authenticate(almost)).toBeUndefined();
  });

  it('authenticates a key until it expires, and not from the moment it does', async () => {
    // Arrange
    const expiresAt = new Date(clock.now().getTime() + HOUR).toISOString();
    const { key } = await services.apiKeys.create({ name: 'temporary', roles: ['Worker'], expiresAt });

    // Act
    clock.advance(HOUR - 1);
    const before = await services.apiKeys.authenticate(key);
    clock.advance(1);
    const at = await services.apiKeys.authenticate(key);

    // Assert
    expect(before?.name).toBe('temporary');
    expect(at).toBeUndefined();
  });

  it('stops authenticating a key as soon as it is revoked, and drops it from the list', async () => {
    // Arrange
    const revoked = await services.apiKeys.create({ name: 'old', roles: ['Administrator'] });
    const kept = await services.apiKeys.create({ name: 'new', roles: ['Administrator'] });

    // Act
    await services.apiKeys.revoke(revoked.id);

    // Assert
    expect(await services.apiKeys.authenticate(revoked.key)).toBeUndefined();
    expect(await services.apiKeys.authenticate(kept.key)).toBeDefined();
    expect((await services.apiKeys.list(1, 20)).items.map((key) => key.id)).toEqual([kept.id]);
  });

  it('revokes a key right after creating it, every time', async () => {
    for (let i = 0; i < 50; i++) {
      const { id, key } = await services.apiKeys.create({ name: `k${i}`, roles: ['Administrator'] });

      await services.apiKeys.revoke(id);

      expect(await services.apiKeys.authenticate(key)).toBeUndefined();
    }
  });

  it('throws NotFoundError when revoking an unknown key, or the same key twice', async () => {
    // Arrange
    const { id } = await services.apiKeys.create({ name: 'once', roles: ['Worker'] });
    await services.apiKeys.revoke(id);

    // Act / Assert
    await expect(services.apiKeys.revoke(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
    await expect(services.apiKeys.revoke(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('adopts an operator-chosen key once and finds it again on the next start', async () => {
    // Act
    const first = await services.apiKeys.ensure('local-admin', ['Administrator'], 'sek_local-admin-secret');
    const again = await services.apiKeys.ensure('local-admin', ['Administrator'], 'sek_local-admin-secret');

    // Assert
    expect(again).toEqual(first);
    expect(first).not.toHaveProperty('key');
    expect((await services.apiKeys.list(1, 20)).totalCount).toBe(1);
    expect(await services.apiKeys.authenticate('sek_local-admin-secret')).toMatchObject({ id: first.id });
  });
});

const storedKey = (id: string, keyHash: string) => ({
  id,
  name: 'fresh',
  roles: ['Administrator' as const],
  keyPrefix: 'sek_abcdef',
  created: '2026-06-01T08:00:00.000Z',
  expiresAt: null,
  pools: null,
  keyHash,
});

describe('DynamoApiKeyStore', () => {
  // DynamoDB Local updates its indexes with the write, so only the requests show that revoking
  // does not depend on one: in AWS a just-written key may not be in the by-id index yet.
  it('revokes a key by consistent reads of its own items, never through an index', async () => {
    const { tables, client } = await freshTables();
    const store = new DynamoApiKeyStore(client, tables.apiKeys);
    const key = storedKey('11111111-1111-4111-8111-111111111111', 'a'.repeat(64));
    await store.create(key);
    const sent = recordRequests(client);

    expect(await store.delete(key.id)).toBe(true);

    expect(sent.map(({ command }) => command)).toEqual(['GetItemCommand', 'TransactWriteItemsCommand']);
    expect(sent[0]?.input).toMatchObject({ ConsistentRead: true });
    expect(JSON.stringify(sent)).not.toContain('IndexName');
    expect(await store.findByHash(key.keyHash)).toBeUndefined();
  });

  it('revokes a key stored before keys had an id item, through the index', async () => {
    const { tables, client } = await freshTables();
    const store = new DynamoApiKeyStore(client, tables.apiKeys);
    const key = storedKey('22222222-2222-4222-8222-222222222222', 'b'.repeat(64));
    // As the store wrote keys before: the key item alone.
    await client.send(new PutCommand({ TableName: tables.apiKeys, Item: { ...key, listPk: 'APIKEY' } }));

    expect(await store.delete(key.id)).toBe(true);

    expect(await store.findByHash(key.keyHash)).toBeUndefined();
  });
});
