import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors.js';
import type { Principal, Role } from '../model.js';
import { InitiatedByType } from '../model.js';
import type { PageEnvelope } from '../paging.js';
import { pageInMemory } from '../paging.js';
import type { ApiKeyStore, Clock, StoredApiKey } from '../ports.js';
import { systemClock } from '../ports.js';
import type { ApiKey, CreateApiKeyInput, CreatedApiKey } from '../schemas/api-key.js';

const KEY_PREFIX = 'sek_';

/**
 * Keys are 256 random bits, so a single SHA-256 is the right hash: nothing to brute-force, and the
 * authorizer can look a key up by its hash in one GetItem. Only the hash is ever stored.
 */
export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

const newSecret = (): string => `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;

const toPublic = ({ keyHash: _hash, ...key }: StoredApiKey): ApiKey => key;

export class ApiKeyService {
  private readonly clock: Clock;

  constructor(
    private readonly store: ApiKeyStore,
    clock: Clock = systemClock,
  ) {
    this.clock = clock;
  }

  /** Creates a key; `secret` is only passed to adopt a key chosen by the operator (local admin key). */
  async create(input: CreateApiKeyInput, secret: string = newSecret()): Promise<CreatedApiKey> {
    const stored: StoredApiKey = {
      id: randomUUID(),
      name: input.name,
      roles: input.roles,
      keyPrefix: secret.slice(0, KEY_PREFIX.length + 6),
      created: this.clock.now().toISOString(),
      expiresAt: input.expiresAt ?? null,
      pools: input.pools ?? null,
      keyHash: hashApiKey(secret),
    };
    await this.store.create(stored);
    return { ...toPublic(stored), key: secret };
  }

  /** Makes sure `secret` is a valid key with these roles, creating it when it is not stored yet. */
  async ensure(name: string, roles: Role[], secret: string): Promise<ApiKey> {
    const existing = await this.store.findByHash(hashApiKey(secret));
    if (existing) return toPublic(existing);
    const { key: _shownOnce, ...created } = await this.create({ name, roles }, secret);
    return created;
  }

  async list(page: number, pageSize: number): Promise<PageEnvelope<ApiKey>> {
    const keys = (await this.store.listAll()).sort((a, b) => a.created.localeCompare(b.created));
    return pageInMemory(keys.map(toPublic), page, pageSize);
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.store.delete(id))) throw new NotFoundError('API key', id);
  }

  /** The principal a presented key stands for, or undefined when it is unknown, revoked or expired. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    const key = await this.store.findByHash(hashApiKey(secret));
    if (!key) return undefined;
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= this.clock.now().getTime()) return undefined;
    return {
      type: InitiatedByType.ApiKey,
      id: key.id,
      name: key.name,
      roles: key.roles,
      ...(key.pools === null ? {} : { pools: key.pools }),
    };
  }
}
