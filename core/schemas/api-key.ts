import { z } from 'zod';
import { Role } from '../model.js';
import { Guid, IsoDateTime, PageQuery, PoolName, paged } from './common.js';

const distinct = (items: readonly unknown[]) => new Set(items).size === items.length;

/** The pools a Worker key may claim from. A key without them (null) serves every pool. */
const KeyPools = z.array(PoolName).min(1).max(50).refine(distinct, 'Must not repeat a pool');
const KEY_POOLS_DESCRIPTION =
  'The worker pools this key may claim tasks from; null or absent: every pool. Only for keys with the Worker role.';

export const CreateApiKeyInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    roles: z.array(z.enum(Role)).min(1).refine(distinct, 'Must not repeat a role'),
    expiresAt: IsoDateTime.nullish().refine(
      (value) => value == null || Date.parse(value) > Date.now(),
      'Must be in the future',
    ),
    pools: KeyPools.nullish().meta({ description: KEY_POOLS_DESCRIPTION }),
  })
  // Pools bound a key's claims and nothing else: on a key that cannot claim they would be a promise
  // the service does not keep.
  .refine((input) => input.pools == null || input.roles.includes(Role.Worker), {
    path: ['pools'],
    message: 'Only a key with the Worker role serves pools',
  });
export type CreateApiKeyInput = z.infer<typeof CreateApiKeyInput>;

export const ApiKey = z
  .object({
    id: Guid,
    name: z.string(),
    roles: z.array(z.enum(Role)),
    /** The first characters of the key, enough to recognise it; never the secret. */
    keyPrefix: z.string(),
    created: IsoDateTime,
    expiresAt: IsoDateTime.nullable(),
    pools: z.array(PoolName).nullable().meta({ description: KEY_POOLS_DESCRIPTION }),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKey>;

export const CreatedApiKey = ApiKey.extend({
  /** The key itself: shown in this response only, stored as a hash. */
  key: z.string(),
}).meta({ id: 'CreatedApiKey' });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

export const ListApiKeysQuery = PageQuery;
export const PagedApiKeys = paged(ApiKey).meta({ id: 'PagedApiKeys' });
