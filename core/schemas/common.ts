import { z } from 'zod';
import { ErrorCode } from '../errors.js';

// A missing field reads "Required" rather than zod's "expected string, received undefined".
z.config({
  customError: (issue) =>
    issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined,
});

/** Identifiers are GUIDs: 8-4-4-4-12 hex digits, any version (the seed page's examples are not RFC 4122). */
export const Guid = z.guid({ error: 'Must be a GUID (8-4-4-4-12 hexadecimal digits)' });

export const IsoDateTime = z.iso.datetime({ offset: true });

/** A worker pool's name: what a step runs on, what a worker claims, and what an API key may serve. */
export const PoolName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'Must be 1-64 letters, digits, dots, dashes or underscores' });

/** Query-string integer: digits only, so "1.5", "abc" and "" are rejected rather than coerced. */
export const queryInteger = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, { error: `Must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(z.number().min(min, `Must be at least ${min}`).max(max, `Must be at most ${max}`));

export const queryBoolean = z
  .enum(['true', 'false'], { error: 'Must be true or false' })
  .transform((value) => value === 'true');

/** Paging parameters every list shares. Out-of-range values are errors, never clamped. */
export const PAGE_SIZE_MAX = 100;
export const PageQuery = z.strictObject({
  page: queryInteger(1, 1_000_000).optional(),
  pageSize: queryInteger(1, PAGE_SIZE_MAX).default(20),
});

/** Lists deep enough to need a cursor (executions) also take `nextToken` instead of `page`. */
export const CursorPageQuery = PageQuery.extend({ nextToken: z.string().min(1).max(4096).optional() });

export const paged = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    totalCount: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
    totalPages: z.number().int(),
    hasNextPage: z.boolean(),
    hasPreviousPage: z.boolean(),
    nextToken: z.string().optional(),
  });

export const ErrorBodySchema = z
  .object({
    code: z.enum(ErrorCode),
    message: z.string(),
    details: z.unknown().optional(),
    validationErrors: z.record(z.string(), z.array(z.string())).optional(),
    timestamp: z.string(),
  })
  .meta({ id: 'Error' });

export const IdParams = z.strictObject({ id: Guid });

/** Response header set on the replay of an earlier request's response (core/idempotency.ts). */
export const IDEMPOTENT_REPLAYED = 'Idempotent-Replayed';

/**
 * Headers a request may carry besides the credentials. A header schema names each header as it is
 * documented; it is matched case-insensitively, and others are ignored.
 */
export const IdempotencyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, { error: 'Must be 1-255 printable ASCII characters' })
    .optional()
    .meta({
      description:
        'Makes the request idempotent for 24 hours: repeating it with the same key (same caller, same ' +
        `schedule or execution) returns the first response, with ${IDEMPOTENT_REPLAYED}: true, and starts nothing; ` +
        'the same key with a different request (another fromStepIndex) is a 409 CONFLICT.',
    }),
});
