import type { z } from 'zod';
import type { ValidationErrors } from '../errors.js';
import { ValidationError } from '../errors.js';

/** `['steps', 0, 'name']` → `steps[0].name`, the field naming used in `validationErrors`. */
function fieldName(path: readonly PropertyKey[], root: string): string {
  let name = '';
  for (const part of path) {
    if (typeof part === 'number') name += `[${part}]`;
    else name += name ? `.${String(part)}` : String(part);
  }
  return name || root;
}

/**
 * Turns zod issues into the contract's `validationErrors` map: field → messages. Field names come
 * from the caller (unknown keys), so they are collected in a Map: on a plain object `constructor`
 * or `__proto__` would find Object.prototype's members instead of an empty slot.
 */
export function toValidationErrors(error: z.ZodError, root: string): ValidationErrors {
  const errors = new Map<string, string[]>();
  const add = (field: string, message: string) => {
    const messages = errors.get(field) ?? [];
    if (!messages.includes(message)) messages.push(message);
    errors.set(field, messages);
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        add(fieldName([...issue.path, key], root), root === 'query' ? 'Unknown parameter' : 'Unknown field');
    } else {
      add(fieldName(issue.path, root), issue.message);
    }
  }
  // fromEntries defines own properties, so even `__proto__` stays an ordinary key.
  return Object.fromEntries(errors);
}

/** Validates input at the edge: the parsed value, or a VALIDATION_ERROR naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, root = 'body'): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(toValidationErrors(result.error, root));
  return result.data;
}
