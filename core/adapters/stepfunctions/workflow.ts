import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  type SFNClientConfig,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import type { Workflow } from '../../ports.js';

/** A callback for a task the state machine no longer awaits: not an error, the answer is just moot. */
const isGoneTask = (error: unknown) =>
  error instanceof TaskDoesNotExist || error instanceof TaskTimedOut || error instanceof InvalidToken;

/**
 * The execution state machine through the Step Functions API. Each schedule execution is one state
 * machine execution named by the execution id, which makes StartExecution idempotent.
 */
export class StepFunctionsWorkflow implements Workflow {
  private readonly client: SFNClient;

  constructor(
    private readonly stateMachineArn: string,
    client: SFNClient | SFNClientConfig = {},
  ) {
    this.client = client instanceof SFNClient ? client : new SFNClient(client);
  }

  private executionArn(executionId: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionId}`;
  }

  async start(executionId: string): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: executionId,
          input: JSON.stringify({ executionId }),
        }),
      );
    } catch (error) {
      // Same name, same input: it is already running (or ran), which is what we asked for.
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }

  async stop(executionId: string, cause: string): Promise<void> {
    try {
      await this.client.send(
        new StopExecutionCommand({ executionArn: this.executionArn(executionId), error: 'Cancelled', cause }),
      );
    } catch (error) {
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
    }
  }

  async describe(executionId: string) {
    try {
      const result = await this.client.send(
        new DescribeExecutionCommand({ executionArn: this.executionArn(executionId) }),
      );
      return { status: result.status ?? 'UNKNOWN', error: result.error, cause: result.cause };
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return undefined;
      throw error;
    }
  }

  async sendTaskSuccess(taskToken: string, output: unknown): Promise<boolean> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
      return true;
    } catch (error) {
      if (isGoneTask(error)) return false;
      throw error;
    }
  }

  async sendTaskHeartbeat(taskToken: string): Promise<boolean> {
    try {
      await this.client.send(new SendTaskHeartbeatCommand({ taskToken }));
      return true;
    } catch (error) {
      if (isGoneTask(error)) return false;
      throw error;
    }
  }
}
