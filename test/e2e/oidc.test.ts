import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type ApiClient, apiClient, sampleSchedule, startTestStack } from '../helpers/local-api.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { TestWorker } from '../helpers/test-worker.js';

let provider: TestOidcProvider;
let stack: LocalStack;

beforeAll(async () => {
  provider = await startOidcProvider();
  stack = await startTestStack({
    tablePrefix: 'e2e-oidc',
    oidc: { issuer: provider.issuer, audience: provider.audience, rolesClaim: 'groups' },
  });
});

afterAll(async () => {
  await stack?.stop();
  await provider?.stop();
});

const bearer = (token: string, apiKey: string | null = null): ApiClient =>
  apiClient(stack, apiKey, { Authorization: `Bearer ${token}` });

function expectErrorBody(body: any, code: string) {
  expect(body).toEqual({ code, message: expect.any(String), timestamp: expect.any(String) });
  expect(body.message.length).toBeGreaterThan(0);
}

describe('signed-in users (Authorization: Bearer)', () => {
  it('lets an Administrator user run and cancel a schedule, recorded as that user', async () => {
    const user = bearer(
      await provider.sign({ sub: 'u-ada', name: 'Ada Lovelace', groups: ['Administrator', 'Staff'] }),
    );

    const created = await user.post('/schedules', sampleSchedule('Run by a signed-in user'));
    expect(created.status).toBe(201);
    const run = await user.post(`/schedules/${created.body.id}/run`);
    expect(run.status).toBe(202);
    const execution = await user.get(`/schedule-executions/${run.body.executionId}`);
    expect(execution.status).toBe(200);
    expect(execution.body).toMatchObject({
      initiatedByType: 'User',
      initiatedById: 'u-ada',
      initiatedByName: 'Ada Lovelace',
    });

    const cancelled = await user.post(`/schedule-executions/${run.body.executionId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      status: 'Cancelled',
      cancelledById: 'u-ada',
      cancelledByName: 'Ada Lovelace',
    });
  });

  it('answers 403 FORBIDDEN to a valid token without one of the service roles', async () => {
    const response = await bearer(await provider.sign({ sub: 'u-bob', groups: ['Staff'] })).get('/schedules');

    expect(response.status).toBe(403);
    expectErrorBody(response.body, 'FORBIDDEN');
  });

  it.each([
    ['another audience', { aud: 'another-app' }],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }],
    ['an ID token', { nonce: 'n-0S6_WzA2Mj' }],
    ['a token issued to another client', { azp: 'another-app' }],
  ])('answers 401 UNAUTHORISED to %s', async (_, claims) => {
    const token = await provider.sign({ groups: ['Administrator'], ...claims });

    const response = await bearer(token).get('/schedules');

    expect(response.status).toBe(401);
    expectErrorBody(response.body, 'UNAUTHORISED');
  });

  it('answers 401 UNAUTHORISED to a token that is not a JWT', async () => {
    const response = await bearer('not.a.jwt').get('/schedules');

    expect(response.status).toBe(401);
    expectErrorBody(response.body, 'UNAUTHORISED');
  });

  it('refuses a request carrying both an API key and a Bearer token', async () => {
    const token = await provider.sign({ groups: ['Administrator'] });

    const response = await bearer(token, stack.adminApiKey).get('/schedules');

    expect(response.status).toBe(401);
    expectErrorBody(response.body, 'UNAUTHORISED');
  });

  it('keeps API keys working beside sign-in', async () => {
    expect((await apiClient(stack).get('/schedules')).status).toBe(200);
  });
});

describe('signed-in workers (Authorization: Bearer)', () => {
  it("binds a task to the user's sub: another user is refused, a fresh token of the same user is not", async () => {
    // Arrange
    const admin = apiClient(stack);
    const schedule = await admin.post('/schedules', {
      name: 'Claimed by a signed-in worker',
      triggerType: 'Manual',
      steps: [
        { name: 'only', stepType: 'Executable', executablePath: '/bin/true', workerPool: 'oidc-workers' },
      ],
    });
    const run = await admin.post(`/schedules/${schedule.body.id}/run`);
    expect(run.status).toBe(202);
    const wanda = (iat: number) => provider.sign({ sub: 'u-wanda', groups: ['Worker'], iat });
    const now = Math.floor(Date.now() / 1000);
    const claimer = new TestWorker(bearer(await wanda(now)), 'wanda-host');
    claimer.pools = ['oidc-workers'];
    const [task] = await claimer.claimAtLeast(1);
    const taskId = task?.taskId as string;
    const other = new TestWorker(
      bearer(await provider.sign({ sub: 'u-vic', groups: ['Worker'] })),
      'wanda-host',
    );

    // Act
    const refused = await other.complete(taskId, 'FailedWithError');
    const refusedBeat = await bearer(await provider.sign({ sub: 'u-vic', groups: ['Worker'] })).post(
      `/worker/tasks/${taskId}/heartbeat`,
      {},
    );
    const accepted = await new TestWorker(bearer(await wanda(now + 1)), 'wanda-host').complete(taskId);

    // Assert
    for (const response of [refused, refusedBeat]) {
      expect(response.status).toBe(403);
      expectErrorBody(response.body, 'FORBIDDEN');
    }
    expect(accepted).toMatchObject({ status: 200, body: { accepted: true, stepStatus: 'Completed' } });
  });
});
