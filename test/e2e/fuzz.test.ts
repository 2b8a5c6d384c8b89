import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_BY_CODE } from '../../core/errors.js';
import { ErrorBodySchema } from '../../core/schemas/common.js';
import type { LocalStack } from '../../local/stack.js';
import {
  type FuzzContext,
  fuzzRequest,
  histogram,
  type RawResponse,
  rawSender,
} from '../helpers/fuzz-requests.js';
import { apiClient, sampleSchedule, startTestStack } from '../helpers/local-api.js';

/**
 * No input earns a 5xx: hostile paths, queries, headers, credentials and bodies against every route
 * of the table, sent to the whole local stack. `npm test` runs a fixed seed; `npm run fuzz` sets
 * FUZZ_RUNS (many more cases) and FUZZ_SEED=random, and prints the seed to replay a failure with.
 */

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
}

const RUNS = numberFromEnv('FUZZ_RUNS', 2_500);
const SEED =
  process.env.FUZZ_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : numberFromEnv('FUZZ_SEED', 20261203);
// About 5 ms a request on an idle machine; the margin is for one shared with other test runs.
const BUDGET_MS = 30_000 + RUNS * 20;

/** API Gateway's own statuses that are not their code's (see GATEWAY_RESPONSES). */
const GATEWAY_ONLY_STATUSES = new Set([413]);

let stack: LocalStack;
let sender: ReturnType<typeof rawSender>;
let ctx: FuzzContext;
const statuses = new Map<number, number>();

beforeAll(async () => {
  stack = await startTestStack();
  const admin = apiClient(stack);
  const worker = await admin.post('/api-keys', { name: 'fuzz-worker', roles: ['Worker'] });
  const revoked = await admin.post('/api-keys', { name: 'fuzz-revoked', roles: ['Administrator'] });
  await admin.delete(`/api-keys/${revoked.body.id}`);
  const schedule = await admin.post('/schedules', sampleSchedule('fuzz target'));
  ctx = {
    adminKey: stack.adminApiKey,
    workerKey: worker.body.key,
    badKey: revoked.body.key,
    scheduleId: schedule.body.id,
  };
  sender = rawSender(stack.apiUrl);
});

afterAll(async () => {
  sender?.close();
  await stack?.stop();
  const requests = [...statuses.values()].reduce((sum, n) => sum + n, 0);
  console.log(`fuzz: seed ${SEED}, ${requests} requests, statuses ${JSON.stringify(histogram(statuses))}`);
});

/** The contract for any answer to any input: never 5xx, and every 4xx carries the error body. */
function expectContractAnswer(response: RawResponse) {
  statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  expect(response.status, response.text.slice(0, 500)).toBeLessThan(500);
  if (response.status < 400) return;
  const parsed = ErrorBodySchema.safeParse(JSON.parse(response.text));
  expect(parsed.success, response.text.slice(0, 500)).toBe(true);
  if (!parsed.success) return;
  if (!GATEWAY_ONLY_STATUSES.has(response.status))
    expect(STATUS_BY_CODE[parsed.data.code]).toBe(response.status);
  expect(response.text).not.toMatch(/at .*\.(ts|js):\d+/);
}

describe('the API under hostile input', () => {
  it(
    `answers every request below 500, with the error body on 4xx (${RUNS} cases)`,
    async () => {
      console.log(
        `fuzz: seed ${SEED}, ${RUNS} cases (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npm run fuzz)`,
      );
      await fc.assert(
        fc.asyncProperty(fuzzRequest(ctx), async (request) => {
          expectContractAnswer(await sender.send(request));
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
    BUDGET_MS,
  );

  it.each([
    { what: 'a body of 10 MB + 1 byte', size: 10 * 1024 * 1024 + 1 },
    { what: 'a body of 12 MB', size: 12 * 1024 * 1024 },
  ])('answers 413 with the error body to $what, before the authorizer', async ({ size }) => {
    for (const apiKey of [ctx.adminKey, 'sek_unknown']) {
      const body = Buffer.alloc(size, 'a');
      const response = await sender.send({
        method: 'POST',
        path: '/api/v1/schedules',
        headers: { 'X-Api-Key': apiKey, 'Content-Type': 'application/json', 'Content-Length': String(size) },
        body,
      });

      expect(response.status).toBe(413);
      expectContractAnswer(response);
    }
  });
});
