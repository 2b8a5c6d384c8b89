import type { Workflow } from '../../core/ports.js';

/**
 * Stands in for Step Functions where a test exercises the domain alone: records every call with
 * its arguments so tests can assert exactly what would have been asked of the state machine.
 */
export class RecordingWorkflow implements Workflow {
  readonly calls: { method: keyof Workflow; args: unknown[] }[] = [];
  /** Runs by execution id, as `describe` reports them. */
  readonly runs = new Map<string, { status: string; error?: string; cause?: string }>();
  /** Set to make `start` fail, as when Step Functions is unreachable. */
  startError: Error | undefined;
  /** Set to make `sendTaskSuccess` fail, as when a wake-up is throttled or its sender crashes. */
  taskSuccessError: Error | undefined;
  /** Tokens no longer awaited (answered, timed out): the callbacks on them answer false. */
  readonly spentTokens = new Set<string>();
  /** Errors `describe` throws for these execution ids, as when DescribeExecution is throttled. */
  readonly describeErrors = new Map<string, Error>();

  async start(executionId: string) {
    this.calls.push({ method: 'start', args: [executionId] });
    if (this.startError) throw this.startError;
    if (!this.runs.has(executionId)) this.runs.set(executionId, { status: 'RUNNING' });
  }
  async stop(executionId: string, cause: string) {
    this.calls.push({ method: 'stop', args: [executionId, cause] });
    const run = this.runs.get(executionId);
    if (run) run.status = 'ABORTED';
  }
  async describe(executionId: string) {
    this.calls.push({ method: 'describe', args: [executionId] });
    const error = this.describeErrors.get(executionId);
    if (error) throw error;
    return this.runs.get(executionId);
  }
  async sendTaskSuccess(taskToken: string, output: unknown) {
    this.calls.push({ method: 'sendTaskSuccess', args: [taskToken, output] });
    if (this.taskSuccessError) throw this.taskSuccessError;
    return !this.spentTokens.has(taskToken);
  }
  async sendTaskHeartbeat(taskToken: string) {
    this.calls.push({ method: 'sendTaskHeartbeat', args: [taskToken] });
    return !this.spentTokens.has(taskToken);
  }

  calledWith(method: keyof Workflow): unknown[][] {
    return this.calls.filter((call) => call.method === method).map((call) => call.args);
  }
}
