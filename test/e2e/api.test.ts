import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type ApiClient, apiClient, sampleSchedule, startTestStack } from '../helpers/local-api.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

let stack: LocalStack;
let admin: ApiClient;

beforeAll(async () => {
  stack = await startTestStack();
  admin = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
});

function expectErrorBody(body: any, code: string) {
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(typeof body.timestamp).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
}

describe('public endpoints', () => {
  it('answers health without credentials', async () => {
    const response = await apiClient(stack, null).get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('serves an OpenAPI 3.1 document naming every operation', async () => {
    const { status, body } = await apiClient(stack, null).get('/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/schedules',
        '/schedules/{id}/run',
        '/schedule-executions/{id}/cancel',
        '/api-keys',
      ]),
    );
    expect(body.components.schemas.ExecutionDetail).toBeDefined();
  });
});

describe('authentication and roles', () => {
  it.each([
    ['no key', null],
    ['an unknown key', 'sek_not-a-real-key'],
  ])('answers 401 UNAUTHORISED with %s', async (_, key) => {
    const response = await apiClient(stack, key).get('/schedules');
    expect(response.status).toBe(401);
    expectErrorBody(response.body, 'UNAUTHORISED');
  });

  it('answers 401 UNAUTHORISED to a Bearer token when OIDC is not configured', async () => {
    const response = await apiClient(stack, null, {
      Authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
    }).get('/schedules');
    expect(response.status).toBe(401);
    expectErrorBody(response.body, 'UNAUTHORISED');
  });

  it('answers 403 FORBIDDEN to a Worker key on an Administrator route', async () => {
    const created = await admin.post('/api-keys', { name: 'worker-1', roles: ['Worker'] });
    expect(created.status).toBe(201);
    const response = await apiClient(stack, created.body.key).get('/schedules');
    expect(response.status).toBe(403);
    expectErrorBody(response.body, 'FORBIDDEN');
  });

  it('shows a key once, lists it without secrets and revokes it at once', async () => {
    const created = await admin.post('/api-keys', { name: 'automation-key', roles: ['Administrator'] });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sek_/);
    const automation = apiClient(stack, created.body.key);
    expect((await automation.get('/schedules')).status).toBe(200);

    const listed = await admin.get('/api-keys?pageSize=100');
    const entry = listed.body.items.find((k: any) => k.id === created.body.id);
    expect(entry).toMatchObject({ name: 'automation-key', roles: ['Administrator'] });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
    expect(entry).not.toHaveProperty('keyHash');

    expect((await admin.delete(`/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await automation.get('/schedules')).status).toBe(401);
    expect((await admin.delete(`/api-keys/${created.body.id}`)).status).toBe(404);
  });

  it('refuses an expired key', async () => {
    const created = await admin.post('/api-keys', {
      name: 'short-lived',
      roles: ['Administrator'],
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    expect(created.status).toBe(201);
    const client = apiClient(stack, created.body.key);
    expect((await client.get('/schedules')).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await client.get('/schedules')).status;
    }
    expect(status).toBe(401);
  });
});

describe('schedules', () => {
  it('creates, reads, replaces, enables, disables and deletes a schedule', async () => {
    const created = await admin.post('/schedules', sampleSchedule('Daily Delta Sync'));
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(GUID);
    expect(created.headers.get('location')).toBe(`/api/v1/schedules/${created.body.id}`);
    expect(created.body).toMatchObject({
      name: 'Daily Delta Sync',
      triggerType: 'Manual',
      timeZone: 'UTC',
      isEnabled: false,
      overlapPolicy: 'Skip',
      catchupWindowSeconds: 300,
      stepCount: 5,
      nextRunTime: null,
      lastRunTime: null,
      skippedCount: 0,
      missedCount: 0,
      lastExecutionId: null,
      lastExecutionStatus: null,
    });
    expect(created.body).not.toHaveProperty('version');
    expect(created.body.steps.map((s: any) => s.stepIndex)).toEqual([0, 0, 1, 2, 3]);
    const id = created.body.id;

    const fetched = await admin.get(`/schedules/${id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(created.body);

    const replaced = await admin.put(`/schedules/${id}`, {
      ...sampleSchedule('Daily Delta Sync (London)'),
      triggerType: 'Cron',
      cronExpression: '0 6 * * MON-FRI',
      timeZone: 'Europe/London',
      steps: [{ ...created.body.steps[0], stepIndex: undefined }],
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.steps).toHaveLength(1);
    expect(replaced.body.steps[0].id).toBe(created.body.steps[0].id);
    expect(replaced.body.nextRunTime).toBeNull();

    const enabled = await admin.post(`/schedules/${id}/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.body.isEnabled).toBe(true);
    expect(Date.parse(enabled.body.nextRunTime)).toBeGreaterThan(Date.now());

    const disabled = await admin.post(`/schedules/${id}/disable`);
    expect(disabled.body).toMatchObject({ isEnabled: false, nextRunTime: null });

    expect((await admin.delete(`/schedules/${id}`)).status).toBe(204);
    const gone = await admin.get(`/schedules/${id}`);
    expect(gone.status).toBe(404);
    expectErrorBody(gone.body, 'NOT_FOUND');
  });

  it('answers 409 CONFLICT to a duplicate name, whatever its case', async () => {
    expect((await admin.post('/schedules', sampleSchedule('Weekly Full Sync'))).status).toBe(201);
    const duplicate = await admin.post('/schedules', sampleSchedule('weekly full sync'));
    expect(duplicate.status).toBe(409);
    expectErrorBody(duplicate.body, 'CONFLICT');
  });

  it('refuses a schedule too large to store with 400 naming steps, and runs one just under the limit', async () => {
    const steps = (text: number, path: number) =>
      Array.from({ length: 90 }, (_, i) => ({
        name: `${i} ${'€'.repeat(190)}`,
        stepType: 'Executable',
        executablePath: '€'.repeat(path),
        arguments: '€'.repeat(text),
        workingDirectory: '€'.repeat(path),
      }));
    const tooLarge = await admin.post('/schedules', {
      ...sampleSchedule('Too large'),
      steps: steps(2000, 1024),
    });
    expect(tooLarge.status).toBe(400);
    expectErrorBody(tooLarge.body, 'VALIDATION_ERROR');
    expect(tooLarge.body.validationErrors.steps[0]).toMatch(/stored as \d+ bytes .*over the limit of \d+/);

    const justUnder = await admin.post('/schedules', {
      ...sampleSchedule('Just under'),
      steps: steps(660, 220),
    });
    expect(justUnder.status).toBe(201);
    const run = await admin.post(`/schedules/${justUnder.body.id}/run`);
    expect(run.status).toBe(202);
    const execution = await admin.get(`/schedule-executions/${run.body.executionId}`);
    expect(execution.body.steps).toHaveLength(90);
  });

  it('lists schedules with search, sort and paging', async () => {
    for (const name of ['Alpha export', 'Beta export', 'Gamma import']) {
      expect((await admin.post('/schedules', sampleSchedule(name))).status).toBe(201);
    }
    const page = await admin.get('/schedules?search=EXPORT&sortBy=name&sortDescending=true&pageSize=1');
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({
      totalCount: 2,
      page: 1,
      pageSize: 1,
      totalPages: 2,
      hasNextPage: true,
    });
    expect(page.body.items.map((s: any) => s.name)).toEqual(['Beta export']);
    expect(page.body.items[0]).not.toHaveProperty('steps');
  });

  it.each([
    ['malformed JSON', '{"name": ', 'BAD_REQUEST', undefined],
    [
      'an unknown field',
      JSON.stringify({ ...sampleSchedule('x'), colour: 'blue' }),
      'VALIDATION_ERROR',
      'colour',
    ],
    [
      'a step missing its required field',
      JSON.stringify({
        name: 'x',
        triggerType: 'Manual',
        steps: [{ name: 's', stepType: 'SqlScript', sqlScriptPath: '/a.sql' }],
      }),
      'VALIDATION_ERROR',
      'steps[0].sqlConnection',
    ],
    [
      'an invalid cron expression',
      JSON.stringify({ name: 'x', triggerType: 'Cron', cronExpression: '0 25 * * *' }),
      'VALIDATION_ERROR',
      'cronExpression',
    ],
    [
      'an unknown time zone',
      JSON.stringify({
        name: 'x',
        triggerType: 'Cron',
        cronExpression: '0 6 * * *',
        timeZone: 'Mars/Olympus',
      }),
      'VALIDATION_ERROR',
      'timeZone',
    ],
    ['a JSON array', '[]', 'VALIDATION_ERROR', 'body'],
  ])('answers 400 to %s', async (_, raw, code, field) => {
    const response = await admin.raw('POST', '/schedules', raw);
    expect(response.status).toBe(400);
    expectErrorBody(response.body, code);
    if (field) expect(Object.keys(response.body.validationErrors)).toContain(field);
  });

  it.each([
    ['a malformed id', '/schedules/not-a-guid', 400],
    ['an unknown id', `/schedules/${UNKNOWN_ID}`, 404],
    ['an unknown route', '/no-such-thing', 404],
    ['page 0', '/schedules?page=0', 400],
    ['pageSize 101', '/schedules?pageSize=101', 400],
    ['an unknown sortBy', '/schedules?sortBy=colour', 400],
    ['an unknown query parameter', '/schedules?colour=blue', 400],
  ])('answers %s with %s and the error body', async (_, path, status) => {
    const response = await admin.get(path);
    expect(response.status).toBe(status);
    expect(response.body.code).toMatch(/^[A-Z_]+$/);
  });
});

describe('next runs', () => {
  it('lists the next fire times of a cron schedule in its time zone, as UTC', async () => {
    const created = await admin.post('/schedules', {
      ...sampleSchedule('Weekday 09:00 New York'),
      triggerType: 'Cron',
      cronExpression: '0 9 * * 1-5',
      timeZone: 'America/New_York',
    });

    const response = await admin.get(`/schedules/${created.body.id}/next-runs?count=7`);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      scheduleId: created.body.id,
      cronExpression: '0 9 * * 1-5',
      timeZone: 'America/New_York',
      isEnabled: false,
    });
    const times: string[] = response.body.nextRuns;
    expect(times).toHaveLength(7);
    expect([...times].sort()).toEqual(times);
    expect(Date.parse(times[0] as string)).toBeGreaterThan(Date.now());
    for (const time of times) {
      const local = new Intl.DateTimeFormat('en-US', {
        timeZone: 'America/New_York',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(time));
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    }
    expect((await admin.get(`/schedules/${created.body.id}/next-runs`)).body.nextRuns).toHaveLength(10);
  });

  it('answers 409 for a Manual schedule and 400 for a count outside 1-100', async () => {
    const manual = await admin.post('/schedules', sampleSchedule('Manual only'));
    const conflict = await admin.get(`/schedules/${manual.body.id}/next-runs`);
    expect(conflict.status).toBe(409);
    expectErrorBody(conflict.body, 'CONFLICT');

    for (const count of ['0', '101', 'abc', '1.5']) {
      const response = await admin.get(`/schedules/${manual.body.id}/next-runs?count=${count}`);
      expect(response.status).toBe(400);
      expectErrorBody(response.body, 'VALIDATION_ERROR');
      expect(Object.keys(response.body.validationErrors)).toEqual(['count']);
    }
    expect((await admin.get(`/schedules/${UNKNOWN_ID}/next-runs`)).status).toBe(404);
  });
});

describe('schedule executions', () => {
  it('queues an execution with a snapshot of the steps and lists it', async () => {
    const schedule = (await admin.post('/schedules', sampleSchedule('Run me'))).body;
    const run = await admin.post(`/schedules/${schedule.id}/run`);
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ status: 'Queued' });
    expect(run.body.executionId).toMatch(GUID);
    expect(typeof run.body.message).toBe('string');

    // Editing the schedule afterwards never rewrites the execution's snapshot.
    await admin.put(`/schedules/${schedule.id}`, sampleSchedule('Run me (renamed)', { steps: [] }));

    const execution = await admin.get(`/schedule-executions/${run.body.executionId}`);
    expect(execution.status).toBe(200);
    // The state machine starts it at once; with no worker the first stage waits in its queue.
    expect(['Queued', 'InProgress']).toContain(execution.body.status);
    expect(execution.body).toMatchObject({
      id: run.body.executionId,
      scheduleId: schedule.id,
      scheduleName: 'Run me',
      currentStepIndex: 0,
      totalSteps: 4,
      completedAt: null,
      initiatedByType: 'ApiKey',
      initiatedByName: 'local-admin',
      errorMessage: null,
    });
    expect(execution.body.initiatedById).toMatch(GUID);
    expect(execution.body.steps).toHaveLength(5);
    expect(execution.body.steps[0]).toMatchObject({
      stepIndex: 0,
      name: 'Corporate LDAP - Delta Import',
      stepType: 'RunProfile',
      executionMode: 'Sequential',
      connectedSystemId: 1,
      completedAt: null,
      activityId: null,
      activityStatus: null,
    });
    expect(['Pending', 'Queued']).toContain(execution.body.steps[0].status);
    expect(execution.body.steps.slice(2).map((s: any) => s.status)).toEqual([
      'Pending',
      'Pending',
      'Pending',
    ]);
    expect(execution.body.steps[2].connectedSystemId).toBeNull();

    const list = await admin.get(`/schedule-executions?scheduleId=${schedule.id}`);
    expect(list.body).toMatchObject({ totalCount: 1, page: 1, hasNextPage: false });
    expect(list.body.items[0].id).toBe(run.body.executionId);
    expect(list.body.items[0]).not.toHaveProperty('steps');

    const active = await admin.get('/schedule-executions/active');
    expect(active.body.map((e: any) => e.id)).toContain(run.body.executionId);

    const scheduleNow = await admin.get(`/schedules/${schedule.id}`);
    expect(scheduleNow.body.lastExecutionId).toBe(run.body.executionId);
    expect(['Queued', 'InProgress']).toContain(scheduleNow.body.lastExecutionStatus);
  });

  it('obeys the Skip overlap policy, blocks delete while active, and cancels', async () => {
    const schedule = (await admin.post('/schedules', sampleSchedule('Overlap'))).body;
    const first = await admin.post(`/schedules/${schedule.id}/run`);
    const second = await admin.post(`/schedules/${schedule.id}/run`);
    expect(second.status).toBe(409);
    expect(second.body.details.activeExecutionId).toBe(first.body.executionId);

    const blocked = await admin.delete(`/schedules/${schedule.id}`);
    expect(blocked.status).toBe(409);

    const cancelled = await admin.post(`/schedule-executions/${first.body.executionId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'Cancelled', cancelledByName: 'local-admin' });
    expect(cancelled.body.completedAt).not.toBeNull();

    const detail = await admin.get(`/schedule-executions/${first.body.executionId}`);
    expect(detail.body.steps.every((s: any) => s.status === 'Cancelled')).toBe(true);
    const again = await admin.post(`/schedule-executions/${first.body.executionId}/cancel`);
    expect(again.status).toBe(409);
    expectErrorBody(again.body, 'CONFLICT');

    const active = await admin.get('/schedule-executions/active');
    expect(active.body.map((e: any) => e.id)).not.toContain(first.body.executionId);
    expect((await admin.delete(`/schedules/${schedule.id}`)).status).toBe(204);
    // Its executions stay readable.
    expect((await admin.get(`/schedule-executions/${first.body.executionId}`)).status).toBe(200);
  });

  it('replays a run with the same Idempotency-Key and names a bad key in a 400', async () => {
    const schedule = (
      await admin.post('/schedules', sampleSchedule('Idempotent', { overlapPolicy: 'AllowAll' }))
    ).body;
    const keyed = (key: string) => apiClient(stack, stack.adminApiKey, { 'Idempotency-Key': key });

    const first = await keyed('order-7 #1').post(`/schedules/${schedule.id}/run`);
    // Header names are case-insensitive: the same key however the client spells it.
    const again = await apiClient(stack, stack.adminApiKey, { 'idempotency-KEY': 'order-7 #1' }).post(
      `/schedules/${schedule.id}/run`,
    );
    const other = await keyed('order-8').post(`/schedules/${schedule.id}/run`);

    expect(first.status).toBe(202);
    expect(first.headers.get('Idempotent-Replayed')).toBeNull();
    expect(again.status).toBe(202);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(Object.keys(again.body)).toEqual(Object.keys(first.body)); // the contract's field order
    expect(other.status).toBe(202);
    expect(other.body.executionId).not.toBe(first.body.executionId);
    const listed = await admin.get(`/schedule-executions?scheduleId=${schedule.id}`);
    expect(listed.body.totalCount).toBe(2);

    for (const bad of ['k'.repeat(256), 'tab\there', 'cl\u00e9']) {
      const refused = await keyed(bad).post(`/schedules/${schedule.id}/run`);
      expect(refused.status).toBe(400);
      expectErrorBody(refused.body, 'VALIDATION_ERROR');
      expect(Object.keys(refused.body.validationErrors)).toEqual(['Idempotency-Key']);
    }
  });

  it('answers 404 to an unknown execution and 400 to a schedule without steps', async () => {
    const missing = await admin.get(`/schedule-executions/${UNKNOWN_ID}`);
    expect(missing.status).toBe(404);
    expectErrorBody(missing.body, 'NOT_FOUND');
    expect((await admin.post(`/schedule-executions/${UNKNOWN_ID}/cancel`)).status).toBe(404);
    const empty = (await admin.post('/schedules', sampleSchedule('Empty', { steps: [] }))).body;
    const run = await admin.post(`/schedules/${empty.id}/run`);
    expect(run.status).toBe(400);
    expectErrorBody(run.body, 'BAD_REQUEST');
  });

  it('pages executions by number and by nextToken alike', async () => {
    const schedule = (await admin.post('/schedules', sampleSchedule('Paged', { overlapPolicy: 'AllowAll' })))
      .body;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++)
      ids.push((await admin.post(`/schedules/${schedule.id}/run`)).body.executionId);

    const byNumber: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const response = await admin.get(
        `/schedule-executions?scheduleId=${schedule.id}&pageSize=3&page=${page}`,
      );
      expect(response.body).toMatchObject({ totalCount: 7, totalPages: 3, page });
      byNumber.push(...response.body.items.map((e: any) => e.id));
    }
    expect(byNumber).toEqual([...ids].reverse());

    const byToken: string[] = [];
    let token: string | undefined;
    do {
      const query = `scheduleId=${schedule.id}&pageSize=3${token ? `&nextToken=${encodeURIComponent(token)}` : ''}`;
      const response = await admin.get(`/schedule-executions?${query}`);
      expect(response.status).toBe(200);
      byToken.push(...response.body.items.map((e: any) => e.id));
      token = response.body.nextToken;
    } while (token);
    expect(byToken).toEqual(byNumber);

    const pastEnd = await admin.get(`/schedule-executions?scheduleId=${schedule.id}&pageSize=3&page=9`);
    expect(pastEnd.body).toMatchObject({
      items: [],
      totalCount: 7,
      hasNextPage: false,
      hasPreviousPage: true,
    });

    const tampered = await admin.get('/schedule-executions?nextToken=bm90LWEtdG9rZW4');
    expect(tampered.status).toBe(400);

    // Positions DynamoDB would refuse as keys, signed with a key that is not the service's.
    const first = await admin.get(`/schedule-executions?scheduleId=${schedule.id}&pageSize=3`);
    const [body] = (first.body.nextToken as string).split('.');
    const payload = JSON.parse(Buffer.from(body as string, 'base64url').toString('utf8'));
    for (const m of ['', 'k'.repeat(2048)]) {
      const forgedBody = Buffer.from(JSON.stringify({ ...payload, k: { m } })).toString('base64url');
      const signature = createHmac('sha256', 'not-the-key').update(forgedBody).digest('base64url');
      const forged = await admin.get(
        `/schedule-executions?scheduleId=${schedule.id}&pageSize=3&nextToken=${forgedBody}.${signature}`,
      );
      expect(forged.status).toBe(400);
      expectErrorBody(forged.body, 'VALIDATION_ERROR');
      expect(forged.body.validationErrors).toHaveProperty('nextToken');
    }
  });
});
