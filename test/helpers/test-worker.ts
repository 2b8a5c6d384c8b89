import type { ApiClient } from './local-api.js';

export interface ClaimedTask {
  taskId: string;
  executionId: string;
  scheduleName: string;
  step: { id: string; name: string; stepType: string; [field: string]: unknown };
  timeoutSeconds: number;
  heartbeatIntervalSeconds: number;
}

/**
 * A worker driven by the test over HTTP with a Worker key: it claims, heartbeats and completes
 * exactly when told, so each scenario controls the interleaving it wants to check.
 */
export class TestWorker {
  /** The pools claimed from when a call names none. */
  pools: string[] = ['default'];

  constructor(
    private readonly api: ApiClient,
    readonly workerId = `test-worker-${Math.random().toString(36).slice(2, 8)}`,
  ) {}

  async claim(
    options: { pools?: string[]; maxTasks?: number; waitSeconds?: number } = {},
  ): Promise<ClaimedTask[]> {
    const response = await this.api.post('/worker/tasks/claim', {
      workerId: this.workerId,
      pools: options.pools ?? this.pools,
      maxTasks: options.maxTasks ?? 1,
      waitSeconds: options.waitSeconds ?? 5,
    });
    if (response.status !== 200)
      throw new Error(`claim answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body.tasks;
  }

  /** Claims until `count` tasks are held or the deadline passes. */
  async claimAtLeast(count: number, ms = 15_000): Promise<ClaimedTask[]> {
    const held: ClaimedTask[] = [];
    const deadline = Date.now() + ms;
    while (held.length < count && Date.now() < deadline) {
      held.push(...(await this.claim({ maxTasks: count - held.length, waitSeconds: 1 })));
    }
    if (held.length < count) throw new Error(`Claimed ${held.length} of ${count} tasks within ${ms} ms`);
    return held;
  }

  async heartbeat(taskId: string): Promise<{ cancellationRequested: boolean }> {
    const response = await this.api.post(`/worker/tasks/${taskId}/heartbeat`, {
      workerId: this.workerId,
      message: 'working',
    });
    if (response.status !== 200) throw new Error(`heartbeat answered ${response.status}`);
    return response.body;
  }

  async complete(
    taskId: string,
    activityStatus = 'Complete',
    extra: Record<string, unknown> = {},
  ): Promise<{ status: number; body: { accepted: boolean; stepStatus: string } }> {
    return this.api.post(`/worker/tasks/${taskId}/complete`, {
      workerId: this.workerId,
      activityStatus,
      ...extra,
    });
  }
}
