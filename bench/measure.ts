import type { CountingProxy, DynamoCall } from './dynamo-proxy.js';

/** One API call as measured: wall time, and the DynamoDB requests it caused, split by who made them. */
export interface Sample {
  ms: number;
  handler: DynamoCall[];
  authorizer: DynamoCall[];
  body: Record<string, unknown>;
}

/**
 * A scenario is a sequence of GET requests: `next` gives the path (below /api/v1) of the following
 * request from the previous answer (undefined before the first), or undefined to stop early.
 */
export interface Scenario {
  label: string;
  /** Position of the scenario's rows in the table. */
  rank: number;
  /** Executions stored in all. */
  size: number;
  /** Executions in the listed partition (all, or the filtered schedule's), as printed. */
  stored: string;
  next(previous: Record<string, unknown> | undefined, n: number): string | undefined;
  /** Checks an answer (status already checked): throws when it is not what the scenario expects. */
  check?(body: Record<string, unknown>): void;
}

export interface ScenarioResult {
  label: string;
  rank: number;
  size: number;
  stored: string;
  count: number;
  p50: number;
  p99: number;
  mean: number;
  requests: { mean: number; min: number; max: number };
  rcu: { mean: number; min: number; max: number };
  wcu: number;
  operations: string;
  authorizer: { requests: number; rcu: number };
  /** Pages reached (for nextToken walks): first and last page number answered. */
  pages?: [number, number];
}

export interface Client {
  get(path: string): Promise<Sample>;
}

export function apiClient(
  apiUrl: string,
  apiKey: string,
  proxy: CountingProxy,
  apiKeysTable: string,
): Client {
  return {
    async get(path) {
      await proxy.take();
      const started = performance.now();
      const response = await fetch(`${apiUrl}${path}`, { headers: { 'x-api-key': apiKey } });
      const text = await response.text();
      const ms = performance.now() - started;
      const calls = await proxy.take();
      if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${text}`);
      const byAuthorizer = (call: DynamoCall) => call.tables.length === 1 && call.tables[0] === apiKeysTable;
      return {
        ms,
        handler: calls.filter((call) => !byAuthorizer(call)),
        authorizer: calls.filter(byAuthorizer),
        body: JSON.parse(text) as Record<string, unknown>,
      };
    },
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

const summary = (values: number[]) => ({
  mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
  min: Math.min(...values),
  max: Math.max(...values),
});

const SHORT: Record<string, string> = { GetItem: 'Get', BatchGetItem: 'BatchGet', Query: 'Query' };

/** Makes up to `calls` requests of the scenario, one after the other, checking each answer. */
export async function exercise(client: Client, scenario: Scenario, calls: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  let previous: Record<string, unknown> | undefined;
  for (let n = 0; n < calls; n++) {
    const path = scenario.next(previous, n);
    if (path === undefined) break;
    const sample = await client.get(path);
    scenario.check?.(sample.body);
    previous = sample.body;
    samples.push(sample);
  }
  return samples;
}

/** Runs `warmup` unmeasured then `count` measured requests of the scenario, one after the other. */
export async function runScenario(
  client: Client,
  scenario: Scenario,
  warmup: number,
  count: number,
): Promise<ScenarioResult> {
  const samples = (await exercise(client, scenario, warmup + count)).slice(warmup);
  if (samples.length === 0) throw new Error(`${scenario.label}: nothing measured`);
  const times = samples.map((s) => s.ms).sort((a, b) => a - b);
  const reads = (calls: DynamoCall[]) =>
    calls.filter((c) => !c.write).reduce((sum, c) => sum + c.capacity, 0);
  const writes = (calls: DynamoCall[]) =>
    calls.filter((c) => c.write).reduce((sum, c) => sum + c.capacity, 0);
  const operations = new Map<string, number>();
  for (const sample of samples) {
    for (const call of sample.handler) {
      const name = SHORT[call.operation] ?? call.operation;
      operations.set(name, (operations.get(name) ?? 0) + 1);
    }
  }
  const pages = samples.map((s) => Number(s.body.page));
  return {
    label: scenario.label,
    rank: scenario.rank,
    size: scenario.size,
    stored: scenario.stored,
    count: samples.length,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    requests: summary(samples.map((s) => s.handler.length)),
    rcu: summary(samples.map((s) => reads(s.handler))),
    wcu: summary(samples.map((s) => writes(s.handler))).mean,
    operations: [...operations]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, total]) => `${trim(total / samples.length)}×${name}`)
      .join(' + '),
    authorizer: {
      requests: summary(samples.map((s) => s.authorizer.length)).mean,
      rcu: summary(samples.map((s) => reads(s.authorizer))).mean,
    },
    ...(pages.every(Number.isFinite)
      ? { pages: [Math.min(...pages), Math.max(...pages)] as [number, number] }
      : {}),
  };
}

/** A number without needless decimals: 2, 1.5, 18.25. */
export function trim(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** A line of the report, on stdout. */
export const log = (line = '') => process.stdout.write(`${line}\n`);

/** A number with thousands separators and exactly `digits` decimals. */
export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * A table on stdout: a header, a rule, the rows; `right` says which columns are right-aligned, and
 * `gapBefore` before which rows (by index) a blank line goes.
 */
export function table(
  header: string[],
  rows: string[][],
  right: (column: number) => boolean,
  gapBefore: (row: number) => boolean = () => false,
) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (right(c) ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd();
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const [i, row] of rows.entries()) {
    if (gapBefore(i)) log();
    log(line(row));
  }
}

export const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
