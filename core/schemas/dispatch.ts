import { z } from 'zod';
import { DUE_PARTITIONS } from '../due-partitions.js';

/**
 * What the dispatcher is invoked with. Each EventBridge target sends its constant input
 * `{ "partition": n }`; anything else (a scheduled event as is, a manual test invocation) carries no
 * partition and dispatches every partition.
 */
export const DispatchEvent = z.looseObject({
  partition: z
    .number()
    .int()
    .min(0)
    .max(DUE_PARTITIONS - 1)
    .optional(),
});
export type DispatchEvent = z.infer<typeof DispatchEvent>;
