import { WorkerApiClient, WorkerApiError } from '../../worker/api-client.js';

export interface ClaimedTask {
  taskId: string;
  executionId: string;
  step: { id: string; name: string };
}

/** One attempt per call: the benchmark counts and retries failures itself. */
const ONCE = { retryForMs: 0 };

/**
 * A worker over HTTP, as test/helpers/test-worker.ts: worker/api-client.ts without its retries, and
 * without a workerId on heartbeats and reports (only claims name the worker).
 */
export class BenchWorker {
  private readonly client: WorkerApiClient;

  constructor(
    apiUrl: string,
    apiKey: string,
    readonly workerId: string,
  ) {
    this.client = new WorkerApiClient({ apiUrl, apiKey });
  }

  async claim(pool: string, maxTasks: number, waitSeconds: number, signal?: AbortSignal) {
    const request = { workerId: this.workerId, pools: [pool], maxTasks, waitSeconds };
    return (await this.client.claim(request, { ...ONCE, signal })) as ClaimedTask[];
  }

  heartbeat(taskId: string) {
    return this.client.heartbeat(taskId, 'working', ONCE);
  }

  complete(taskId: string) {
    return this.client.complete(taskId, { activityStatus: 'Complete' }, ONCE);
  }
}

/** The HTTP status of a call the API answered with an error; undefined for anything else. */
export const answeredStatus = (error: unknown) =>
  error instanceof WorkerApiError ? error.status : undefined;
