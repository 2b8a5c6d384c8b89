import { z } from 'zod';
import { Role } from '../model.js';
import { Guid, IsoDateTime, PageQuery, paged } from './common.js';

export const CreateApiKeyInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  roles: z
    .array(z.enum(Role))
    .min(1)
    .refine((roles) => new Set(roles).size === roles.length, 'Must not repeat a role'),
  expiresAt: IsoDateTime.nullish().refine(
    (value) => value == null || Date.parse(value) > Date.now(),
    'Must be in the future',
  ),
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
