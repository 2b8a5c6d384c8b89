import { WORKER_LIMITS } from '../core/schemas/worker.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import type { StepOutcome } from './runners/types.js';

/** A worker API call that failed for good (or whose retries were stopped). */
export class WorkerApiError extends Error {
  override readonly name = 'WorkerApiError';

  constructor(
    message: string,
    /** HTTP status, or undefined when the API could not be reached. */
    readonly status: number | undefined,
    /** The error body's `code` (e.g. `UNAUTHORISED`), when there was one. */
    readonly code: string | undefined,
    /** Whether trying again may help: unreachable, 5xx, 429. */
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface RetryPolicy {
  /** First back-off (ms); it doubles with each attempt up to `maxMs`, with jitter. */
  baseMs: number;
  maxMs: number;
}

export interface RequestOptions {
  /** Aborts the request in flight and any back-off. */
  signal?: AbortSignal | undefined;
  /** Stops further retries without aborting the request in flight. */
  stopRetrying?: AbortSignal | undefined;
  /** Gives up retrying after this long (ms); unlimited by default. */
  retryForMs?: number | undefined;
  /** Time limit of one attempt (ms). */
  attemptTimeoutMs?: number | undefined;
}

export interface WorkerApiClientOptions {
  /** Base URL including `/api/v1`. */
  apiUrl: string;
  /** The Worker key, sent as `X-Api-Key`. Never logged. */
  apiKey: string;
  /**
   * The workerId tasks are claimed as, sent with every heartbeat and outcome: the service holds a
   * claimed task to it (and to the key), so another worker sharing the key cannot report on it.
   */
  workerId?: string;
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  fetch?: typeof fetch;
  /** 0 ≤ x < 1; injectable for tests. */
  random?: () => number;
}

export interface ClaimRequest {
  workerId: string;
  pools: readonly string[];
  maxTasks: number;
  waitSeconds: number;
  /** The same on every retry of one claim, so the service answers a retry with what it claimed. */
  requestId?: string;
}

const DEFAULT_RETRY: RetryPolicy = { baseMs: 500, maxMs: 30_000 };
const DEFAULT_ATTEMPT_TIMEOUT_MS = 30_000;
/** A Retry-After longer than this is treated as this. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * The worker endpoints over `fetch`, with the Worker key in `X-Api-Key`.
 *
 * Calls are retried with exponential back-off and jitter while the API cannot be reached, times out,
 * or answers 5xx or 429 (waiting as long as `Retry-After` says, when it says). Other 4xx answers are
 * final: the request itself is wrong and would fail again. `complete` is idempotent on the service, so
 * retrying a report whose answer was lost is safe.
 */
export class WorkerApiClient {
  private readonly retry: RetryPolicy;
  private readonly fetch: typeof fetch;
  private readonly random: () => number;
  private readonly logger: Logger;

  constructor(private readonly options: WorkerApiClientOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetch = options.fetch ?? globalThis.fetch;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? silentLogger;
  }

  /** Claims up to `maxTasks` tasks, waiting up to `waitSeconds` for one. Returns the raw tasks, unvalidated. */
  async claim(request: ClaimRequest, options: RequestOptions = {}): Promise<unknown[]> {
    const body = await this.call<{ tasks?: unknown }>('claim', 'POST', '/worker/tasks/claim', request, {
      attemptTimeoutMs: request.waitSeconds * 1000 + DEFAULT_ATTEMPT_TIMEOUT_MS,
      ...options,
    });
    if (!Array.isArray(body?.tasks))
      throw new WorkerApiError('claim: the answer has no tasks array', 200, undefined, false);
    return body.tasks;
  }

  /**
   * Records a heartbeat: a progress message, or the message and the output so far (the service shows
   * its newest 16 KB on the step). `cancellationRequested: true` means stop the step now.
   */
  async heartbeat(
    taskId: string,
    beat: string | HeartbeatReport | undefined,
    options: RequestOptions = {},
  ): Promise<{ cancellationRequested: boolean }> {
    const { message, output } =
      typeof beat === 'string' ? { message: beat, output: undefined } : (beat ?? {});
    const body = await this.call<{ cancellationRequested?: unknown }>(
      'heartbeat',
      'POST',
      `/worker/tasks/${encodeURIComponent(taskId)}/heartbeat`,
      {
        ...this.claimant(),
        ...(message ? { message: message.slice(0, WORKER_LIMITS.heartbeatMessage) } : {}),
        ...(output !== undefined ? { output: keepEnd(output, WORKER_LIMITS.output) } : {}),
      },
      options,
    );
    return { cancellationRequested: body?.cancellationRequested === true };
  }

  /** Reports a task's outcome (idempotent). `accepted: false`: the step had already ended without this worker. */
  async complete(
    taskId: string,
    outcome: StepOutcome,
    options: RequestOptions = {},
  ): Promise<{ accepted: boolean; stepStatus: string }> {
    const body = await this.call<{ accepted?: unknown; stepStatus?: unknown }>(
      'complete',
      'POST',
      `/worker/tasks/${encodeURIComponent(taskId)}/complete`,
      { ...this.claimant(), ...outcome },
      options,
    );
    return { accepted: body?.accepted === true, stepStatus: String(body?.stepStatus ?? 'Unknown') };
  }

  private claimant(): { workerId?: string } {
    return this.options.workerId === undefined ? {} : { workerId: this.options.workerId };
  }

  private async call<T>(
    operation: string,
    method: string,
    path: string,
    payload: unknown,
    options: RequestOptions,
  ): Promise<T | undefined> {
    const started = Date.now();
    const retryFor = options.retryForMs ?? Number.POSITIVE_INFINITY;
    for (let attempt = 0; ; attempt += 1) {
      const result = await this.attempt<T>(operation, method, path, payload, options);
      if (result.ok) return result.body;
      const { error, retryAfterMs } = result;
      if (!error.retryable || options.signal?.aborted || options.stopRetrying?.aborted) throw error;
      const delay = retryAfterMs ?? this.backoff(attempt);
      if (Date.now() + delay - started > retryFor) throw error;
      this.logger.warn('worker API call failed; retrying', {
        operation,
        attempt: attempt + 1,
        retryInMs: delay,
        status: error.status,
        code: error.code,
        error: error.message,
      });
      await sleep(delay, [options.signal, options.stopRetrying]);
      if (options.signal?.aborted || options.stopRetrying?.aborted) throw error;
    }
  }

  private async attempt<T>(
    operation: string,
    method: string,
    path: string,
    payload: unknown,
    options: RequestOptions,
  ): Promise<
    { ok: true; body: T | undefined } | { ok: false; error: WorkerApiError; retryAfterMs?: number }
  > {
    const timeout = AbortSignal.timeout(options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(`${this.options.apiUrl}${path}`, {
        method,
        headers: {
          'X-Api-Key': this.options.apiKey,
          'Content-Type': 'application/json',
          Accept: 'application/json',
          ...(this.options.userAgent ? { 'User-Agent': this.options.userAgent } : {}),
        },
        body: JSON.stringify(payload),
        signal,
      });
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) {
        return {
          ok: false,
          error: new WorkerApiError(`${operation}: aborted`, undefined, undefined, false, { cause: error }),
        };
      }
      const reason = timeout.aborted ? 'timed out' : describeNetworkError(error);
      return {
        ok: false,
        error: new WorkerApiError(
          `${operation}: the API could not be reached (${reason})`,
          undefined,
          undefined,
          true,
          {
            cause: error,
          },
        ),
      };
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (response.ok) {
      if (text && body === undefined) {
        return {
          ok: false,
          error: new WorkerApiError(
            `${operation}: the API answered ${response.status} with non-JSON`,
            response.status,
            undefined,
            false,
          ),
        };
      }
      return { ok: true, body: body as T | undefined };
    }
    const errorBody = (body ?? {}) as { code?: unknown; message?: unknown };
    const code = typeof errorBody.code === 'string' ? errorBody.code : undefined;
    const message = typeof errorBody.message === 'string' ? errorBody.message : text.slice(0, 200);
    const retryable = response.status >= 500 || response.status === 429;
    const retryAfterMs = retryable ? parseRetryAfter(response.headers.get('retry-after')) : undefined;
    return {
      ok: false,
      error: new WorkerApiError(
        `${operation}: the API answered ${response.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`,
        response.status,
        code,
        retryable,
      ),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  /** Exponential back-off with "equal jitter": half fixed, half random, so retries spread but never bunch at 0. */
  backoff(attempt: number): number {
    const cap = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** Math.min(attempt, 30));
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** Waits `ms`, or less when any of the signals aborts. */
export function sleep(ms: number, signals: readonly (AbortSignal | undefined)[] = []): Promise<void> {
  const active = signals.filter((s): s is AbortSignal => s !== undefined);
  if (active.some((s) => s.aborted)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const s of active) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of active) s.addEventListener('abort', done, { once: true });
  });
}

/** What a heartbeat reports besides being alive. */
export interface HeartbeatReport {
  message?: string | undefined;
  /** The tail of what the step printed so far. */
  output?: string | undefined;
}

const keepEnd = (text: string, max: number) => (text.length > max ? text.slice(text.length - max) : text);
