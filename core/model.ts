/**
 * The product's vocabulary: every enum of the contract, spelled once as an `as const` object with a
 * derived union type. Handlers, stores, schemas and tests import these rather than string literals.
 */

export const ExecutionStatus = {
  Queued: 'Queued',
  InProgress: 'InProgress',
  Paused: 'Paused',
  Completed: 'Completed',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

export const StepStatus = {
  Pending: 'Pending',
  Queued: 'Queued',
  Processing: 'Processing',
  Waiting: 'Waiting',
  Completed: 'Completed',
  CompletedWithWarning: 'Completed with Warning',
  CompletedWithError: 'Completed with Error',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export const ActivityStatus = {
  InProgress: 'InProgress',
  Complete: 'Complete',
  CompleteWithWarning: 'CompleteWithWarning',
  CompleteWithError: 'CompleteWithError',
  FailedWithError: 'FailedWithError',
  Cancelled: 'Cancelled',
} as const;
export type ActivityStatus = (typeof ActivityStatus)[keyof typeof ActivityStatus];

export const StepType = {
  RunProfile: 'RunProfile',
  PowerShell: 'PowerShell',
  Executable: 'Executable',
  SqlScript: 'SqlScript',
} as const;
export type StepType = (typeof StepType)[keyof typeof StepType];

export const ExecutionMode = {
  Sequential: 'Sequential',
  ParallelWithPrevious: 'ParallelWithPrevious',
} as const;
export type ExecutionMode = (typeof ExecutionMode)[keyof typeof ExecutionMode];

export const TriggerType = {
  Cron: 'Cron',
  Manual: 'Manual',
} as const;
export type TriggerType = (typeof TriggerType)[keyof typeof TriggerType];

export const OverlapPolicy = {
  Skip: 'Skip',
  BufferOne: 'BufferOne',
  AllowAll: 'AllowAll',
  CancelOther: 'CancelOther',
} as const;
export type OverlapPolicy = (typeof OverlapPolicy)[keyof typeof OverlapPolicy];

export const InitiatedByType = {
  User: 'User',
  ApiKey: 'ApiKey',
  NotSet: 'NotSet',
} as const;
export type InitiatedByType = (typeof InitiatedByType)[keyof typeof InitiatedByType];

/** Who starts an execution, or cancels one: the caller as recorded (`initiatedBy*`, `cancelledBy*`); cron runs are `NotSet` with no id. */
export interface Initiator {
  type: InitiatedByType;
  id: string | null;
  name: string | null;
}

export const Role = {
  Administrator: 'Administrator',
  Worker: 'Worker',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Who asked for something: the authenticated caller, as the authorizer established it. */
export interface Principal {
  readonly type: Exclude<InitiatedByType, 'NotSet'>;
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  /**
   * The worker pools it may claim from; absent: every pool (a key created without `pools`, and any
   * OIDC user: a user's pools would have to come from the identity provider, which has no such claim).
   */
  readonly pools?: readonly string[] | undefined;
}

/** Life of a worker task: queued for a pool, claimed by a worker, then ended one way or another. */
export const WorkerTaskStatus = {
  Queued: 'Queued',
  Claimed: 'Claimed',
  Completed: 'Completed',
  /** The step ended without the worker (cancel, timeout, lost heartbeat): the worker must stop. */
  Abandoned: 'Abandoned',
} as const;
export type WorkerTaskStatus = (typeof WorkerTaskStatus)[keyof typeof WorkerTaskStatus];

/** A worker on `GET /workers`: Online while it claimed or beat recently (see `WorkerService.list`). */
export const WorkerStatus = {
  Online: 'Online',
  Offline: 'Offline',
} as const;
export type WorkerStatus = (typeof WorkerStatus)[keyof typeof WorkerStatus];
