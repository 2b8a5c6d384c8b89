import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_BUILD_DIR } from '../../core/api/console-config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD_SCRIPT = 'build:console';

/**
 * The stack deploys the built console (`lib/constructs/console.ts`), so synthesizing it needs
 * CONSOLE_BUILD_DIR. Builds it once for the infra suite when it is missing; an existing build is
 * used as it is (rebuild with `npm run build:console` after changing the console). Without the
 * script there is nothing to run, and the synth says what is missing.
 */
export default function setup(): void {
  if (existsSync(join(ROOT, CONSOLE_BUILD_DIR, 'index.html'))) return;
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: object })
    .scripts;
  if (!scripts || !(BUILD_SCRIPT in scripts)) return;
  const run = spawnSync('npm', ['run', BUILD_SCRIPT], { cwd: ROOT, stdio: 'inherit' });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`npm run ${BUILD_SCRIPT} failed (exit ${run.status}).`);
}
