/**
 * Names of the environment variables (besides the table names in `TABLE_ENV`) through which the
 * stack, or the local runtime, tells every function where the state machine is and how it is tuned.
 */
export const WORKFLOW_ENV = {
  stateMachineArn: 'STATE_MACHINE_ARN',
  waitSeconds: 'ORCHESTRATOR_WAIT_SECONDS',
  heartbeatTimeoutSeconds: 'STEP_HEARTBEAT_TIMEOUT_SECONDS',
} as const;
