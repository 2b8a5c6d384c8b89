/** Most of a step's `output` the service keeps: 16 KB of UTF-8, the newest text. */
export const STEP_OUTPUT_BYTES = 16 * 1024;

/**
 * The end of `text` that fits in `maxBytes` of UTF-8, never splitting a character: the bytes cut at
 * the limit, less any continuation bytes of a character whose start was cut off.
 */
export function keepNewestBytes(text: string, maxBytes: number = STEP_OUTPUT_BYTES): string {
  // At most 3 bytes per UTF-16 unit: shorter text cannot be over the limit.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  // 10xxxxxx: the middle of a character.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start += 1;
  return bytes.subarray(start).toString('utf8');
}

/** A reported output as kept: its newest 16 KB, or null when there is none. */
export const stepOutput = (output: string | null | undefined): string | null =>
  output ? keepNewestBytes(output) : null;
