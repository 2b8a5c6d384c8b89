/** JSON values as the local Step Functions modules pass them around. */

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** JSON in, JSON out, as a Lambda invocation serializes both ways (also isolates the caller's objects). */
export const jsonCopy = (value: unknown): unknown =>
  value === undefined ? null : JSON.parse(JSON.stringify(value));

export const epochSeconds = (date: Date) => date.getTime() / 1000;
