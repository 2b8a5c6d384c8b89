import { describe, expect, it } from 'vitest';
import { RECONCILE_GRACE_MS } from '../../core/services/reconciler.js';
import { killTree, start, stop, waitFor } from '../helpers/npm-start.js';
import { suiteTempDir } from '../helpers/temp-dir.js';
import {
  type ExecutionView,
  faultStack,
  getExecution,
  run,
  seconds,
  sleepSchedule,
  untilMidStep,
  waitUntilEnded,
} from './processes.js';

/**
 * The whole local stack dies at once (SIGKILL to every process of `npm start`'s tree, the DynamoDB
 * Local JVM and the step's own process included) while one execution's step runs in the embedded
 * worker and a second one waits behind it (BufferOne). Restarted on the same data directory, the
 * service must lose nothing it accepted and leave nothing active: the reconciler (at start-up,
 * again when its grace has passed, then every minute) restarts the lost state machines; the step
 * whose worker died fails on its lost heartbeat, which fails its execution; the buffered one then
 * runs on the new embedded worker.
 */

const HEARTBEAT_SECONDS = 5;
/**
 * When `npm start`'s reconciler first sees an execution the killed process left: at start-up for
 * older ones, at the end of the grace (local/stack.ts) for those queued just before the kill.
 */
const RECONCILER_PERIOD_MS = RECONCILE_GRACE_MS + 1000;
const STEP_SECONDS = 5;
/** Room for a loaded machine: polling, the state machine's waits, the worker's claim. */
const SLACK_MS = 15_000;

const dataDir = suiteTempDir('faults-crash-');

describe('npm start killed outright', () => {
  it('loses no accepted execution and leaves none active after a restart on the same data', async () => {
    // Arrange: a stack on disk, a step running in its embedded worker, a second run buffered behind it.
    const { api, env } = await faultStack('faults-crash', HEARTBEAT_SECONDS, { DATA_DIR: dataDir() });
    const first = start(env);
    await waitFor(first, /try: curl/);
    const schedule = await api.post(
      '/schedules',
      sleepSchedule('Crash mid-step', STEP_SECONDS, { overlapPolicy: 'BufferOne' }),
    );
    expect(schedule.status).toBe(201);
    const running = await run(api, schedule.body.id);
    const buffered = await run(api, schedule.body.id);
    await untilMidStep(api, running, first, `/bin/sleep ${STEP_SECONDS}`);
    expect((await getExecution(api, buffered)).status).toBe('Queued');

    // Act: kill every process at once, mid-step and mid-queue, then start again on the same data.
    const killed = await killTree(first);
    const restartedAt = Date.now();
    const second = start(env);
    try {
      await waitFor(second, /try: curl/);
      const readyMs = Date.now() - restartedAt;
      const ended = await waitUntilEnded(
        api,
        [running, buffered],
        readyMs + RECONCILER_PERIOD_MS + (HEARTBEAT_SECONDS + STEP_SECONDS) * 1000 + SLACK_MS,
      );
      const recoveryMs = Date.now() - restartedAt;
      const [crashed, queued] = ended;
      const endedMs = (execution: ExecutionView) => Date.parse(execution.completedAt as string) - restartedAt;
      console.log(
        `[faults] stack SIGKILL of ${killed.length} processes mid-step and mid-queue; after restart: ready ${seconds(readyMs)} s, ` +
          `mid-step execution ended ${seconds(endedMs(crashed))} s, buffered one ended ${seconds(endedMs(queued))} s, all terminal seen at ${seconds(recoveryMs)} s`,
      );

      // Assert: both accepted runs exist and ended as the contract says a lost worker ends them.
      // Nothing stayed active past the first reconciler run that could see it, plus the heartbeat deadline.
      expect(endedMs(crashed)).toBeLessThanOrEqual(
        readyMs + RECONCILER_PERIOD_MS + HEARTBEAT_SECONDS * 1000 + SLACK_MS,
      );
      expect(crashed.status).toBe('Failed');
      expect(crashed.steps[0]?.status).toBe('Failed');
      expect(crashed.steps[0]?.errorMessage).toMatch(/Lost heartbeat/);
      expect(crashed.errorMessage).toMatch(/sleep 5/);
      expect(queued.status).toBe('Completed');
      expect(queued.steps[0]?.status).toBe('Completed');
      expect((await api.get('/schedule-executions/active')).body).toEqual([]);
      // Nothing else was made up on the way: exactly the two accepted executions.
      const listed = await api.get(`/schedule-executions?scheduleId=${schedule.body.id}`);
      expect(listed.body.items.map((e: { id: string }) => e.id).sort()).toEqual([running, buffered].sort());
    } finally {
      expect(await stop(second)).toBe(0);
    }
  });
});
