/**
 * Counts and times the Lambda invocations of the local stack without touching its code: every handler
 * is a middy handler, and middy's public `.use()` adds a middleware to the handler object that
 * `local/stack.ts` invokes (same module instance: one process). Each invocation is recorded with its
 * function, what it did (the orchestrator's `action`, or the API operation id) and its in-process wall
 * time from the first to the last middleware hook: the local stand-in for Lambda's billed duration.
 */

export interface Invocation {
  /** The Lambda function: orchestrator, authorizer, worker, schedules, executions, api-keys, meta. */
  fn: string;
  /** Orchestrator action (`advance`, `enqueueStep`, `stepFailed`, `crash`) or API operation id. */
  kind: string;
  ms: number;
  ok: boolean;
  /** When it ended (performance.now()). */
  endedAt: number;
  event: Record<string, unknown>;
  /** The handler's result (the orchestrator's NextMove for `advance`). */
  result?: Record<string, unknown>;
}

interface MiddyRequest {
  event: Record<string, unknown>;
  response?: unknown;
}

interface Middyfied {
  use(middleware: {
    before?: (request: MiddyRequest) => void;
    after?: (request: MiddyRequest) => void;
    onError?: (request: MiddyRequest) => void;
  }): unknown;
}

export interface LambdaMeter {
  /** Invocations ended since the last `take()`; resets the record. */
  take(): Invocation[];
  /** Invocations started and not ended yet, by function. */
  inFlight(fn: string): number;
  /** Called at the end of each invocation (after it is recorded). */
  onInvocation?: (invocation: Invocation) => void;
}

function kindOf(fn: string, event: Record<string, unknown>): string {
  if (fn === 'orchestrator') return String(event.action);
  if (fn === 'authorizer') return 'authorize';
  const context = event.requestContext as Record<string, unknown> | undefined;
  return String(context?.resourceId ?? 'unknown');
}

/** Instruments every handler the local stack serves; call once per process, after startLocalStack. */
export async function instrumentLambdas(): Promise<LambdaMeter> {
  const modules: Record<string, Promise<{ handler: unknown }>> = {
    orchestrator: import('../functions/orchestrator.js'),
    authorizer: import('../functions/authorizer.js'),
    claims: import('../functions/claims.js'),
    worker: import('../functions/worker.js'),
    schedules: import('../functions/schedules.js'),
    executions: import('../functions/executions.js'),
    'api-keys': import('../functions/api-keys.js'),
    meta: import('../functions/meta.js'),
  };
  let records: Invocation[] = [];
  const running = new Map<string, number>();
  const started = new WeakMap<MiddyRequest, number>();
  const meter: LambdaMeter = {
    take: () => {
      const taken = records;
      records = [];
      return taken;
    },
    inFlight: (fn) => running.get(fn) ?? 0,
  };
  for (const [fn, loading] of Object.entries(modules)) {
    const handler = (await loading).handler as Middyfied;
    const end = (request: MiddyRequest, ok: boolean) => {
      const endedAt = performance.now();
      running.set(fn, (running.get(fn) ?? 1) - 1);
      const invocation: Invocation = {
        fn,
        kind: kindOf(fn, request.event),
        ms: endedAt - (started.get(request) ?? endedAt),
        ok,
        endedAt,
        event: request.event,
      };
      if (ok && request.response && typeof request.response === 'object') {
        invocation.result = request.response as Record<string, unknown>;
      }
      records.push(invocation);
      meter.onInvocation?.(invocation);
    };
    handler.use({
      before: (request) => {
        started.set(request, performance.now());
        running.set(fn, (running.get(fn) ?? 0) + 1);
      },
      after: (request) => end(request, true),
      onError: (request) => end(request, false),
    });
  }
  return meter;
}
