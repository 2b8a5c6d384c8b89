import { fileURLToPath } from 'node:url';
import { OidcSettingsError, oidcSettingsFromEnv } from '../core/auth/oidc-settings.js';
import { settingsFromEnv } from '../core/environment.js';
import { ensureConsoleBuilt } from '../local/console-site.js';
import { LocalRuntimeError } from '../local/dynamodb-local.js';
import { startLocalStack } from '../local/stack.js';
import { ConfigError } from '../worker/config.js';

/** `npm start`: the whole service on this machine, no AWS account needed. */

const port = Number(process.env.PORT ?? 3000);
const dataDir = process.env.DATA_DIR ?? '.local-data';
const inMemory = process.env.LOCAL_IN_MEMORY === 'true';
const cronTrigger = process.env.LOCAL_CRON !== 'false';
// The embedded worker runs the worked example's configuration unless told otherwise.
const workerConfigFile =
  process.env.LOCAL_WORKER === 'false'
    ? undefined
    : (process.env.LOCAL_WORKER_CONFIG ?? fileURLToPath(new URL('../examples/worker.json', import.meta.url)));

try {
  // Read as the authorizer reads them, but checked now, so a typo stops start-up instead of every sign-in.
  const oidc = oidcSettingsFromEnv(process.env);
  // The workflow's tuning, read and checked as the functions read it (their defaults when unset;
  // here, as for every variable of `npm start`, a variable set empty counts as unset).
  const { waitSeconds, heartbeatTimeoutSeconds, queueTimeoutSeconds } = settingsFromEnv(
    Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== '')),
  );
  // A fresh clone has no build, and an edited console an old one: either is (re)built first.
  const consoleDir = await ensureConsoleBuilt();
  const stack = await startLocalStack({
    port,
    ...(inMemory ? {} : { dataDir }),
    ...(process.env.LOCAL_ADMIN_API_KEY ? { adminApiKey: process.env.LOCAL_ADMIN_API_KEY } : {}),
    waitSeconds,
    ...(workerConfigFile ? { workerConfigFile } : {}),
    cronTrigger,
    heartbeatTimeoutSeconds,
    queueTimeoutSeconds,
    ...(oidc ? { oidc } : {}),
    consoleDir,
  });
  console.log(`Schedule execution service: ${stack.apiUrl}`);
  console.log(`  operator console: ${stack.consoleUrl}`);
  console.log(`  data: ${inMemory ? 'in memory (LOCAL_IN_MEMORY=true)' : dataDir}`);
  console.log(`  Administrator API key (local-admin): ${stack.adminApiKey}`);
  console.log(
    stack.worker
      ? `  embedded worker: ${stack.worker.workerId}, pools ${stack.worker.pools.join(', ')} (${workerConfigFile})`
      : '  embedded worker: off (LOCAL_WORKER=false)',
  );
  console.log(
    cronTrigger
      ? '  cron trigger: every minute (enabled Cron schedules fire)'
      : '  cron trigger: off (LOCAL_CRON=false)',
  );
  console.log(
    oidc
      ? `  sign-in: Bearer tokens from ${oidc.issuer} for audience ${oidc.audience}, roles in claim ${oidc.rolesClaim}`
      : '  sign-in: off (set OIDC_ISSUER and OIDC_AUDIENCE to accept Bearer tokens)',
  );
  console.log(`  try: curl -H "X-Api-Key: ${stack.adminApiKey}" ${stack.apiUrl}/schedules`);
  let stopping = false;
  const stop = async () => {
    // A second Ctrl-C does not wait: steps still running are reconciled at the next start.
    if (stopping) process.exit(130);
    stopping = true;
    if (stack.worker)
      console.log(
        'Stopping: the embedded worker lets its running steps end first (Ctrl-C again to quit now).',
      );
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  if (
    error instanceof LocalRuntimeError ||
    error instanceof ConfigError ||
    error instanceof OidcSettingsError
  ) {
    console.error(`Cannot start: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
