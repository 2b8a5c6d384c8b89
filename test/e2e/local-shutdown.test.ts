import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/adapters/dynamodb/client.js';
import { DynamoExecutionStore } from '../../core/adapters/dynamodb/execution-store.js';
import { startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { localTableNames } from '../../local/tables.js';
import { eventually } from '../helpers/eventually.js';
import { apiClient, startTestStack } from '../helpers/local-api.js';
import { suiteTempDir } from '../helpers/temp-dir.js';

/**
 * Stopping the local stack (Ctrl-C on `npm start`) while the embedded worker runs a step: the step
 * may finish within the worker's grace period, and its report must still reach the API, so the
 * stack keeps serving until the worker has stopped. The test reads what was recorded by starting the
 * stack again on the same data directory, as a user would.
 */
const TABLE_PREFIX = 'shutdown';

describe('stopping the local stack', () => {
  const dir = suiteTempDir('shutdown-');

  it('lets a running step of the embedded worker finish and record its result', async () => {
    // Arrange: a worker with a short long poll, running a step that takes two seconds.
    const configFile = join(dir(), 'worker.json');
    await writeFile(
      configFile,
      JSON.stringify({
        apiUrl: 'http://127.0.0.1:1/api/v1',
        workerId: 'shutdown-worker',
        pools: ['default'],
        pollWaitSeconds: 1,
        shutdownGraceSeconds: 30,
      }),
    );
    const dataDir = join(dir(), 'data');
    const stack = await startTestStack({ dataDir, tablePrefix: TABLE_PREFIX, workerConfigFile: configFile });
    const admin = apiClient(stack);
    const schedule = await admin.post('/schedules', {
      name: 'Two seconds',
      triggerType: 'Manual',
      steps: [
        {
          name: 'sleep',
          stepType: 'Executable',
          executablePath: process.execPath,
          arguments: '-e "setTimeout(() => {}, 2000)"',
        },
      ],
    });
    expect(schedule.status).toBe(201);
    const run = await admin.post(`/schedules/${schedule.body.id}/run`);
    const executionId = run.body.executionId as string;
    await eventually(
      async () => (await admin.get(`/schedule-executions/${executionId}`)).body.steps[0].status,
      (status) => status === 'Processing',
    );

    // Act
    await stack.stop();

    // Assert: the step's end was recorded although the stack was stopping. (Read from the data
    // directory's database directly: the handlers of this process keep the stopped stack's clients.)
    const database = await startDynamoDbLocal({ dataDir });
    try {
      const store = new DynamoExecutionStore(
        createDocumentClient(database.connection),
        localTableNames(TABLE_PREFIX),
      );
      const [step] = await store.getSteps(executionId);
      expect(step).toMatchObject({ status: 'Completed', activityStatus: 'Complete' });
    } finally {
      await database.stop();
    }
  });
});
