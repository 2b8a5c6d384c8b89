import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { log, percentile, table } from './measure.js';

/**
 * Cold-start figures of the Lambda bundles (`BENCH_ONLY=bundles`): the app is synthesized into a
 * scratch directory (`cdk synth`: the assets `cdk deploy` uploads), and each function of the template
 * is measured from its asset: bytes on disk, the zip Lambda receives (each file deflated, as in the
 * asset's zip) and module-load time, the part of a cold start the bundle decides: a fresh Node with
 * the function's NODE_OPTIONS and environment imports the bundle, and the median of BENCH_BUNDLE_RUNS
 * (5) loads is taken. BENCH_BUNDLES_BEFORE=<a cdk.out of another commit> prints its figures beside.
 */

const RUNS = Number(process.env.BENCH_BUNDLE_RUNS ?? 5);

interface Bundle {
  fn: string;
  bytes: number;
  zipBytes: number;
  mapBytes: number;
  loadMs: number;
}

interface LambdaResource {
  Type: string;
  Properties: {
    Code?: { S3Key?: unknown };
    Runtime?: unknown;
    Environment?: { Variables?: Record<string, unknown> };
  };
}

function synth(): string {
  const out = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  const run = spawnSync('npx', ['cdk', 'synth', '--quiet', '-o', out], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`cdk synth failed: ${run.stderr}`);
  return out;
}

/** One import of the bundle in a fresh Node, timed inside it (process start excluded). */
function loadOnce(entry: string, env: Record<string, string>): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(entry).href)}); console.log(performance.now() - t);`;
  // The function's NODE_OPTIONS as flags of the child (the bench's own tsx loader is not passed on).
  const flags = env.NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...env, NODE_OPTIONS: '' },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(Number(stdout.trim())) : reject(new Error(`loading ${entry}: exit ${code}`)),
    );
  });
}

async function measure(cdkOut: string): Promise<Map<string, Bundle>> {
  const templateFile = readdirSync(cdkOut).find((f) => f.endsWith('.template.json'));
  if (!templateFile) throw new Error(`${cdkOut}: no template`);
  const template = JSON.parse(readFileSync(join(cdkOut, templateFile), 'utf8')) as {
    Resources: Record<string, LambdaResource>;
  };
  const bundles = new Map<string, Bundle>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const key = resource.Properties.Code?.S3Key;
    if (resource.Type !== 'AWS::Lambda::Function' || typeof key !== 'string') continue;
    // The service's functions: not aws-cdk-lib's own (BucketDeployment's handler is Python).
    if (!String(resource.Properties.Runtime ?? '').startsWith('nodejs')) continue;
    const dir = join(cdkOut, `asset.${key.replace(/\.zip$/, '')}`);
    const files = readdirSync(dir).map((f) => join(dir, f));
    const env = Object.fromEntries(
      Object.entries(resource.Properties.Environment?.Variables ?? {}).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : 'resolved-at-deploy',
      ]),
    );
    const loads: number[] = [];
    for (let n = 0; n < RUNS; n++) loads.push(await loadOnce(join(dir, 'index.mjs'), env));
    // The logical id without CDK's hash: the construct path, e.g. WorkflowOrchestratorFunction.
    const fn = id.replace(/[0-9A-F]{8}$/, '');
    bundles.set(fn, {
      fn,
      bytes: files.reduce((total, f) => total + statSync(f).size, 0),
      zipBytes: files.reduce((total, f) => total + deflateRawSync(readFileSync(f), { level: 9 }).length, 0),
      mapBytes: files.filter((f) => f.endsWith('.map')).reduce((total, f) => total + statSync(f).size, 0),
      loadMs: percentile(
        loads.sort((a, b) => a - b),
        50,
      ),
    });
  }
  return bundles;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

export async function runBundleBench(): Promise<boolean> {
  const beforeDir = process.env.BENCH_BUNDLES_BEFORE;
  log(
    `Lambda bundles: cdk synth, then per function its asset's size and module-load time (median of ${RUNS} fresh Node ${process.version} processes; timings are noisy on a shared machine, sizes exact)`,
  );
  const out = synth();
  try {
    const now = await measure(out);
    const before = beforeDir ? await measure(beforeDir) : undefined;
    const rows = [...now.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .map((b) => {
        const was = before?.get(b.fn);
        const pair = (value: (x: Bundle) => string) => (was ? `${value(was)} → ${value(b)}` : value(b));
        return [
          b.fn,
          pair((x) => kb(x.bytes)),
          pair((x) => kb(x.mapBytes)),
          pair((x) => kb(x.zipBytes)),
          pair((x) => `${x.loadMs.toFixed(0)} ms`),
        ];
      });
    table(
      [
        'Function',
        before ? 'asset before → now' : 'asset',
        'of which source map',
        'zipped',
        'module load (median)',
      ],
      rows,
      (c) => c > 0,
    );
    if (before) log(`  before = ${beforeDir}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return true;
}
