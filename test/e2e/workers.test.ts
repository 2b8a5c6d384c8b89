import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type ApiClient, apiClient, startTestStack } from '../helpers/local-api.js';
import { TestWorker } from '../helpers/test-worker.js';

/** `GET /workers` over HTTP on the whole local stack: a worker that claims is listed; Workers may not list. */

let stack: LocalStack;
let admin: ApiClient;

beforeAll(async () => {
  stack = await startTestStack({ waitSeconds: 1 });
  admin = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
});

describe('GET /workers', () => {
  it('lists the test worker Online with its pools and the task it holds, and refuses a Worker key', async () => {
    // Arrange
    const created = await admin.post('/api-keys', { name: 'workers-e2e', roles: ['Worker'] });
    expect(created.status).toBe(201);
    const workerApi = apiClient(stack, created.body.key);
    const schedule = await admin.post('/schedules', {
      name: 'Workers e2e',
      triggerType: 'Manual',
      steps: [
        {
          name: 'Listed step',
          stepType: 'Executable',
          executablePath: '/bin/true',
          workerPool: 'workers-e2e',
        },
      ],
    });
    expect(schedule.status).toBe(201);
    const run = await admin.post(`/schedules/${schedule.body.id}/run`);
    expect(run.status).toBe(202);
    const worker = new TestWorker(workerApi, 'e2e-lister');
    worker.pools = ['workers-e2e'];
    const [task] = await worker.claimAtLeast(1);

    // Act
    const listed = await admin.get('/workers');
    const refused = await workerApi.get('/workers');

    // Assert
    expect(listed.status).toBe(200);
    expect(Array.isArray(listed.body)).toBe(true);
    const mine = listed.body.find((w: { workerId: string }) => w.workerId === 'e2e-lister');
    expect(mine).toEqual({
      workerId: 'e2e-lister',
      pools: ['workers-e2e'],
      status: 'Online',
      lastSeenAt: expect.any(String),
      runningTasks: [
        {
          taskId: task?.taskId,
          executionId: run.body.executionId,
          stepName: 'Listed step',
          since: expect.any(String),
        },
      ],
    });
    expect(refused.status).toBe(403);
  });
});
