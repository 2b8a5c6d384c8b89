#!/usr/bin/env node
/**
 * A stand-in for a real run-profile adapter: it "runs" a run profile of the Corporate LDAP connected
 * system, printing progress, and ends with the result line the worker reads:
 *
 *   {"activityStatus":"Complete","activityId":"ldap-1-delta-import-…","message":"…"}
 *
 * The worker starts it from examples/worker.json as
 *   node adapters/ldap-run-profile.mjs --connected-system 1 --run-profile "Delta Import" --execution-id …
 * (one argv element per placeholder: no shell, no quoting issues). Replace it with a script that calls
 * your identity-management engine; keep the last line.
 *
 * LDAP_SIMULATOR_STEP_MS sets the pause between progress lines (default 400 ms).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'connected-system': { type: 'string' },
    'run-profile': { type: 'string' },
    'execution-id': { type: 'string' },
  },
});
const system = values['connected-system'] ?? '?';
const profile = values['run-profile'] ?? '';
const stepMs = Number(process.env.LDAP_SIMULATOR_STEP_MS ?? 400);

const PROFILES = {
  'Delta Import': {
    progress: [
      'Connecting to ldaps://ldap.corp.example:636 as cn=idm-sync',
      'Reading changes since the last watermark (USN 88412)',
      'Staged 42 changes: 3 adds, 37 updates, 2 deletes',
    ],
    result: { activityStatus: 'Complete', message: 'Imported 42 changes' },
  },
  'Full Import': {
    progress: [
      'Connecting to ldaps://ldap.corp.example:636',
      'Reading 12,480 objects',
      'Staged 12,480 objects',
    ],
    result: { activityStatus: 'Complete', message: 'Imported 12,480 objects' },
  },
  'Delta Sync': {
    progress: ['Synchronising 42 staged changes', 'Applied join and projection rules', '118 exports pending'],
    result: { activityStatus: 'Complete', message: 'Synchronised 42 objects; 118 exports pending' },
  },
  Export: {
    progress: ['Exporting 118 pending changes', 'Exported 116; 2 awaiting confirmation'],
    result: {
      activityStatus: 'CompleteWithWarning',
      message: '2 of 118 exports are awaiting confirmation on the next import',
    },
  },
};

const run = PROFILES[profile];
if (!run) {
  console.error(
    `Unknown run profile "${profile}" for connected system ${system}; known: ${Object.keys(PROFILES).join(', ')}`,
  );
  process.exit(1);
}

// The worker stops a cancelled or timed-out step with SIGTERM: end quickly and say so.
process.on('SIGTERM', () => {
  console.error(`Stop requested: abandoning "${profile}" on connected system ${system}`);
  process.exit(143);
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
console.log(
  `Connected system ${system}: running "${profile}" (execution ${values['execution-id'] ?? 'n/a'})`,
);
for (const [i, line] of run.progress.entries()) {
  await sleep(stepMs);
  console.log(`[${i + 1}/${run.progress.length}] ${line}`);
}
const slug = profile.toLowerCase().replace(/[^a-z0-9]+/g, '-');
console.log(JSON.stringify({ ...run.result, activityId: `ldap-${system}-${slug}-${Date.now()}` }));
