import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { killTree, start, stop, waitFor } from '../helpers/npm-start.js';
import { suiteTempDir } from '../helpers/temp-dir.js';
import { faultStack, run, seconds, sleepSchedule, untilMidStep, waitUntilEnded } from './processes.js';

/**
 * A worker of its own (`bin/worker.ts`, the service started with LOCAL_WORKER=false) dies with SIGKILL
 * while its step runs. The contract: a step whose worker stops heartbeating ends `Failed` saying so,
 * and with `continueOnFailure: false` its execution fails; a new worker then takes new work.
 */

const HEARTBEAT_SECONDS = 5;
const SLACK_MS = 10_000;

const configDir = suiteTempDir('faults-worker-');

describe('a worker killed mid-step', () => {
  it('fails its step on the lost heartbeat, and a new worker picks up new work', async () => {
    // Arrange: the service without its embedded worker, a Worker key, a worker process running a step.
    const { api, apiUrl, env } = await faultStack('faults-worker', HEARTBEAT_SECONDS, {
      LOCAL_IN_MEMORY: 'true',
      LOCAL_WORKER: 'false',
    });
    const service = start(env);
    const workers: ReturnType<typeof start>[] = [];
    try {
      await waitFor(service, /embedded worker: off/);
      const key = await api.post('/api-keys', { name: 'faults-worker', roles: ['Worker'] });
      expect(key.status).toBe(201);
      const startWorker = (workerId: string) => {
        const config = join(configDir(), `${workerId}.json`);
        writeFileSync(
          config,
          JSON.stringify({
            apiUrl,
            workerId,
            pools: ['default'],
            pollWaitSeconds: 1,
            shutdownGraceSeconds: 0,
            killGraceSeconds: 1,
          }),
        );
        const worker = start({ WORKER_API_KEY: key.body.key }, ['bin/worker.ts', '--config', config]);
        workers.push(worker);
        return worker;
      };
      const long = await api.post('/schedules', sleepSchedule('Worker dies', 60));
      const short = await api.post('/schedules', sleepSchedule('After the worker died', 1));
      const first = startWorker('faults-worker-1');
      const doomed = await run(api, long.body.id);
      // Mid-step: the step's own process runs under the worker.
      await untilMidStep(api, doomed, first, '/bin/sleep 60');

      // Act: kill the worker (and the step's process) outright.
      await killTree(first);
      const killedAt = Date.now();
      const [failed] = await waitUntilEnded(api, [doomed], HEARTBEAT_SECONDS * 1000 + SLACK_MS);
      const failedMs = Date.parse(failed.completedAt as string) - killedAt;

      // Assert: the step failed on its lost heartbeat, and so did the execution.
      expect(failed.status).toBe('Failed');
      expect(failed.steps[0]?.status).toBe('Failed');
      expect(failed.steps[0]?.errorMessage).toMatch(/Lost heartbeat/);
      expect(failed.errorMessage).toMatch(/sleep 60/);

      // Act: a new worker process, new work.
      const startedAt = Date.now();
      startWorker('faults-worker-2');
      const next = await run(api, short.body.id);
      const [done] = await waitUntilEnded(api, [next], 30_000);
      const pickedUpMs = Date.now() - startedAt;

      // Assert: it ran there (the only worker alive).
      expect(done.status).toBe('Completed');
      expect(done.steps[0]?.status).toBe('Completed');
      console.log(
        `[faults] worker SIGKILL mid-step: step and execution Failed ${seconds(failedMs)} s after the kill (heartbeat deadline ${HEARTBEAT_SECONDS} s); ` +
          `a new worker ran a 1 s step to Completed ${seconds(pickedUpMs)} s after it was started`,
      );
    } finally {
      for (const worker of workers) await stop(worker);
      expect(await stop(service)).toBe(0);
    }
  });
});
