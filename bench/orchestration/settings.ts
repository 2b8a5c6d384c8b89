/** The orchestration benchmark's settings, read from the environment (see index.ts). */

const int = (name: string, fallback: number, min = 1) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name}: a whole number ≥ ${min}`);
  return value;
};
export const EXECUTIONS = int('BENCH_EXECUTIONS', 200);
export const HANDOFFS = int('BENCH_HANDOFFS', 100);
export const WORKER_LOOPS = int('BENCH_WORKERS', 20);
export const MAX_TASKS = int('BENCH_WORKER_MAX_TASKS', 5);
export const LAMBDA_MB = int('BENCH_LAMBDA_MB', 512);
export const HEARTBEATS_PER_STEP = int('BENCH_HEARTBEATS_PER_STEP', 1, 0);
/** The idle probe's wait: by default the whole long poll, so nothing in it is scaled. */
export const IDLE_SECONDS = int('BENCH_IDLE_SECONDS', 20);
/** Long poll of the throughput workers (the hand-off worker polls 20 s). */
export const THROUGHPUT_WAIT_SECONDS = 5;
export const HANDOFF_WAIT_SECONDS = 20;
