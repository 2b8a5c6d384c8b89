import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * A directory of the calling suite's own in the system's temp directory, made before its tests and
 * removed with all they left in it after them. Answers the path's getter: it exists from beforeAll on.
 */
export function suiteTempDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('the temp directory is made in beforeAll');
    return dir;
  };
}
