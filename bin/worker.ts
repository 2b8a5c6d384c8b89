import { runWorkerCli } from '../worker/cli.js';

/** The worker agent: `tsx bin/worker.ts --config worker.json` (see examples/README.md). */
process.exit(await runWorkerCli(process.argv.slice(2)));
