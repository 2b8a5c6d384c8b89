import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/dynamodb-local.js';
import { start, stop, waitFor } from '../helpers/npm-start.js';

/** `npm start` as a user runs it: a child process, its output, its port, its data directory. */

const dataDir = mkdtempSync(join(tmpdir(), 'schedule-service-'));

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** `npm start` in memory on a free port with a chosen admin key, and how to call it. */
async function startInMemory(adminKey: string) {
  const port = await freePort();
  const started = start({ PORT: String(port), LOCAL_IN_MEMORY: 'true', LOCAL_ADMIN_API_KEY: adminKey });
  return {
    started,
    url: `http://localhost:${port}/api/v1`,
    headers: { 'X-Api-Key': adminKey, 'Content-Type': 'application/json' },
  };
}

describe('npm start', () => {
  it('serves the API with the chosen admin key and keeps data across restarts', async () => {
    const port = await freePort();
    const env = { PORT: String(port), DATA_DIR: dataDir, LOCAL_ADMIN_API_KEY: 'my-laptop-admin-key' };
    const url = `http://localhost:${port}/api/v1`;
    const headers = { 'X-Api-Key': 'my-laptop-admin-key', 'Content-Type': 'application/json' };

    const first = start(env);
    await waitFor(first, /Administrator API key \(local-admin\): my-laptop-admin-key/);
    const created = await fetch(`${url}/schedules`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'Survives restarts', triggerType: 'Manual' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(await stop(first)).toBe(0);

    const second = start(env);
    await waitFor(second, /Schedule execution service: /);
    const fetched = await fetch(`${url}/schedules/${id}`, { headers });
    expect(fetched.status).toBe(200);
    expect(((await fetched.json()) as { name: string }).name).toBe('Survives restarts');
    expect(await stop(second)).toBe(0);
  });

  it('prints a fresh key each start when none is chosen, and revokes the previous one', async () => {
    const port = await freePort();
    const env = { PORT: String(port), DATA_DIR: dataDir, LOCAL_ADMIN_API_KEY: '' };
    const url = `http://localhost:${port}/api/v1/schedules`;

    const first = start(env);
    const [, firstKey] = await waitFor(first, /\(local-admin\): (sek_\S+)/);
    expect((await fetch(url, { headers: { 'X-Api-Key': firstKey as string } })).status).toBe(200);
    await stop(first);

    const second = start(env);
    const [, secondKey] = await waitFor(second, /\(local-admin\): (sek_\S+)/);
    expect(secondKey).not.toBe(firstKey);
    expect((await fetch(url, { headers: { 'X-Api-Key': secondKey as string } })).status).toBe(200);
    expect((await fetch(url, { headers: { 'X-Api-Key': firstKey as string } })).status).toBe(401);
    await stop(second);
  });

  it('runs the worked example with its embedded worker', async () => {
    const { started, url, headers } = await startInMemory('example-admin-key');
    await waitFor(started, /embedded worker: example-worker, pools default/);

    const schedule = await fetch(`${url}/schedules`, {
      method: 'POST',
      headers,
      body: readFileSync('examples/schedules/daily-delta-sync.json', 'utf8'),
    });
    expect(schedule.status).toBe(201);
    const { id } = (await schedule.json()) as { id: string };
    const run = await fetch(`${url}/schedules/${id}/run`, { method: 'POST', headers });
    const { executionId } = (await run.json()) as { executionId: string };

    const deadline = Date.now() + 60_000;
    let execution: { status: string; steps: { status: string; activityId: string | null }[] } | undefined;
    while (Date.now() < deadline) {
      execution = (await (
        await fetch(`${url}/schedule-executions/${executionId}`, { headers })
      ).json()) as typeof execution;
      if (execution && ['Completed', 'Failed', 'Cancelled'].includes(execution.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(execution?.status).toBe('Completed');
    expect(execution?.steps.every((step) => step.status.startsWith('Completed'))).toBe(true);
    expect(execution?.steps.some((step) => step.activityId !== null)).toBe(true);
    // The embedded worker is listed by GET /workers, Online, with its pools and nothing left to run.
    const workers = (await (await fetch(`${url}/workers`, { headers })).json()) as unknown[];
    expect(workers).toContainEqual(
      expect.objectContaining({ workerId: 'example-worker', pools: ['default'], status: 'Online' }),
    );
    expect(await stop(started)).toBe(0);
  });

  it('fires a cron schedule at a real minute boundary and runs it with the embedded worker', async () => {
    const { started, url, headers } = await startInMemory('cron-admin-key');
    await waitFor(started, /cron trigger: every minute/);
    const example = JSON.parse(readFileSync('examples/schedules/daily-delta-sync.json', 'utf8'));

    // Every minute, in a time zone other than UTC: the next minute boundary fires it.
    const created = await fetch(`${url}/schedules`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...example, cronExpression: '* * * * *', timeZone: 'Asia/Kolkata' }),
    });
    expect(created.status).toBe(201);
    const schedule = (await created.json()) as { id: string; nextRunTime: string };
    const fireTime = schedule.nextRunTime;
    expect(Date.parse(fireTime) % 60_000).toBe(0);

    const deadline = Date.parse(fireTime) + 60_000;
    let execution: { id: string; status: string; initiatedByType: string; scheduledFor: string } | undefined;
    while (Date.now() < deadline && execution?.status !== 'Completed') {
      await new Promise((r) => setTimeout(r, 500));
      const page = (await (
        await fetch(`${url}/schedule-executions?scheduleId=${schedule.id}&sortDescending=false`, { headers })
      ).json()) as { items: NonNullable<typeof execution>[] };
      execution = page.items[0];
    }
    expect(execution).toMatchObject({
      status: 'Completed',
      initiatedByType: 'NotSet',
      scheduledFor: fireTime,
    });
    const after = (await (await fetch(`${url}/schedules/${schedule.id}`, { headers })).json()) as Record<
      string,
      unknown
    >;
    expect(after.lastRunTime).toBe(fireTime);
    expect(Date.parse(after.nextRunTime as string)).toBeGreaterThan(Date.parse(fireTime));
    expect(await stop(started)).toBe(0);
  }, 150_000);

  it('exits with a one-line error when the port is busy', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((ok) => blocker.listen(port, '127.0.0.1', () => ok()));
    try {
      const started = start({ PORT: String(port), LOCAL_IN_MEMORY: 'true' });
      const code = await new Promise<number | null>((done) => started.child.once('exit', (c) => done(c)));
      expect(code).toBe(1);
      expect(started.output().trim()).toBe(
        `Cannot start: Port ${port} (the API) is already in use: stop what uses it or choose another port.`,
      );
    } finally {
      blocker.close();
    }
  });

  it('exits with a one-line error when Java is missing', async () => {
    const started = start({ PORT: String(await freePort()), LOCAL_IN_MEMORY: 'true', PATH: '/nonexistent' });
    const code = await new Promise<number | null>((done) => started.child.once('exit', (c) => done(c)));
    expect(code).toBe(1);
    expect(started.output().trim()).toMatch(/^Cannot start: Java was not found on PATH[^\n]*$/);
  });
});
