import { describe, expect, it } from 'vitest';
import { parseRetryAfter, WorkerApiClient, WorkerApiError } from '../../../worker/api-client.js';

type Step = { status: number; body?: unknown; headers?: Record<string, string> } | Error;

/** A fetch that answers from a script and records the calls, so retries can be checked without a network. */
function scriptedFetch(steps: Step[]) {
  const calls: { url: string; init: RequestInit; at: number }[] = [];
  const fetch = (async (url: string | URL, init: RequestInit = {}) => {
    calls.push({ url: String(url), init, at: Date.now() });
    const step = steps.shift();
    if (!step) throw new Error('no more scripted answers');
    if (step instanceof Error) throw step;
    return new Response(step.body === undefined ? null : JSON.stringify(step.body), {
      status: step.status,
      headers: step.headers ?? {},
    });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const client = (fetch: typeof globalThis.fetch) =>
  new WorkerApiClient({
    apiUrl: 'http://api.test/api/v1',
    apiKey: 'sek_secret',
    fetch,
    retry: { baseMs: 1, maxMs: 5 },
  });

const outcome = { activityStatus: 'Complete' } as const;

describe('WorkerApiClient', () => {
  it('sends the key in X-Api-Key and the request as JSON', async () => {
    const { fetch, calls } = scriptedFetch([{ status: 200, body: { tasks: [] } }]);

    await client(fetch).claim({ workerId: 'w1', pools: ['default'], maxTasks: 2, waitSeconds: 0 });

    expect(calls[0]?.url).toBe('http://api.test/api/v1/worker/tasks/claim');
    expect(calls[0]?.init.headers).toMatchObject({
      'X-Api-Key': 'sek_secret',
      'Content-Type': 'application/json',
    });
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual({
      workerId: 'w1',
      pools: ['default'],
      maxTasks: 2,
      waitSeconds: 0,
    });
  });

  it.each([
    { name: 'a network error', first: new TypeError('fetch failed') as Step },
    { name: 'a 500', first: { status: 500, body: { code: 'INTERNAL_ERROR', message: 'boom' } } },
    { name: 'a 503', first: { status: 503 } },
    { name: 'a 429', first: { status: 429, body: { code: 'TOO_MANY_REQUESTS' } } },
  ])('retries after $name', async ({ first }) => {
    const { fetch, calls } = scriptedFetch([
      first,
      first,
      { status: 200, body: { accepted: true, stepStatus: 'Completed' } },
    ]);

    const answer = await client(fetch).complete('t1', outcome);

    expect(answer).toEqual({ accepted: true, stepStatus: 'Completed' });
    expect(calls).toHaveLength(3);
  });

  it.each([400, 401, 403, 404, 409])('does not retry a %i', async (status) => {
    const { fetch, calls } = scriptedFetch([{ status, body: { code: 'X', message: 'no' } }]);

    const failure = client(fetch).heartbeat('t1', 'working');

    await expect(failure).rejects.toMatchObject({
      name: 'WorkerApiError',
      status,
      code: 'X',
      retryable: false,
    });
    expect(calls).toHaveLength(1);
  });

  it('names its workerId on heartbeat and complete, so the service can hold the task to it', async () => {
    // Arrange
    const { fetch, calls } = scriptedFetch([
      { status: 200, body: { cancellationRequested: false } },
      { status: 200, body: { accepted: true, stepStatus: 'Completed' } },
    ]);
    const named = new WorkerApiClient({
      apiUrl: 'http://api.test/api/v1',
      apiKey: 'sek_secret',
      workerId: 'w1',
      fetch,
    });

    // Act
    await named.heartbeat('t1', 'working');
    await named.complete('t1', outcome);

    // Assert
    expect(calls.map((call) => JSON.parse(String(call.init.body)))).toEqual([
      { workerId: 'w1', message: 'working' },
      { workerId: 'w1', activityStatus: 'Complete' },
    ]);
  });

  it('waits as long as Retry-After says', async () => {
    const { fetch, calls } = scriptedFetch([
      { status: 429, headers: { 'Retry-After': '1' } },
      { status: 200, body: { cancellationRequested: true } },
    ]);

    const answer = await client(fetch).heartbeat('t1', undefined);

    expect(answer).toEqual({ cancellationRequested: true });
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('gives up when retryForMs has passed', async () => {
    const { fetch } = scriptedFetch(Array.from({ length: 50 }, () => ({ status: 503 })));
    const slow = new WorkerApiClient({
      apiUrl: 'http://api.test/api/v1',
      apiKey: 'k',
      fetch,
      retry: { baseMs: 20, maxMs: 20 },
    });

    await expect(slow.complete('t1', outcome, { retryForMs: 50 })).rejects.toBeInstanceOf(WorkerApiError);
  });

  it('stops retrying when told to, without waiting out the back-off', async () => {
    const { fetch, calls } = scriptedFetch(Array.from({ length: 5 }, () => ({ status: 503 })));
    const stop = new AbortController();
    const slow = new WorkerApiClient({
      apiUrl: 'http://a/api/v1',
      apiKey: 'k',
      fetch,
      retry: { baseMs: 60_000, maxMs: 60_000 },
    });
    const started = Date.now();

    const failure = slow.claim(
      { workerId: 'w', pools: ['p'], maxTasks: 1, waitSeconds: 0 },
      { stopRetrying: stop.signal },
    );
    setTimeout(() => stop.abort(), 50);

    await expect(failure).rejects.toMatchObject({ status: 503 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(calls).toHaveLength(1);
  });

  it('backs off exponentially with jitter, capped', () => {
    const low = new WorkerApiClient({
      apiUrl: 'x',
      apiKey: 'k',
      random: () => 0,
      retry: { baseMs: 100, maxMs: 1000 },
    });
    const high = new WorkerApiClient({
      apiUrl: 'x',
      apiKey: 'k',
      random: () => 0.999,
      retry: { baseMs: 100, maxMs: 1000 },
    });

    expect([0, 1, 2, 3, 4, 10].map((n) => low.backoff(n))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 10].map((n) => high.backoff(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');

  it.each([
    { value: null, ms: undefined },
    { value: '', ms: undefined },
    { value: '0', ms: 0 },
    { value: '7', ms: 7000 },
    { value: 'Tue, 01 Jan 2030 00:00:30 GMT', ms: 30_000 },
    { value: 'Mon, 31 Dec 2029 23:00:00 GMT', ms: 0 },
    { value: '99999', ms: 600_000 },
    { value: 'soon', ms: undefined },
  ])('reads $value as $ms ms', ({ value, ms }) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});
