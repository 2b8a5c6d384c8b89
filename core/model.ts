/**
 * The product's vocabulary: every enum of the contract, spelled once as a constant table (`enumOf`,
 * or `as const` where a key is not its value) with a derived union type. Handlers, stores, schemas
 * and tests import these rather than string literals.
 */

import { enumOf, type ValueOf } from './enum.js';

export const ExecutionStatus = enumOf('Queued', 'InProgress', 'Paused', 'Completed', 'Failed', 'Cancelled');
export type ExecutionStatus = ValueOf<typeof ExecutionStatus>;

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
export type StepStatus = ValueOf<typeof StepStatus>;

export const ActivityStatus = enumOf(
  'InProgress',
  'Complete',
  'CompleteWithWarning',
  'CompleteWithError',
  'FailedWithError',
  'Cancelled',
);
export type ActivityStatus = ValueOf<typeof ActivityStatus>;

export const StepType = enumOf('RunProfile', 'PowerShell', 'Executable', 'SqlScript');
export type StepType = ValueOf<typeof StepType>;

export const ExecutionMode = enumOf('Sequential', 'ParallelWithPrevious');
export type ExecutionMode = ValueOf<typeof ExecutionMode>;

export const TriggerType = enumOf('Cron', 'Manual');
export type TriggerType = ValueOf<typeof TriggerType>;

export const OverlapPolicy = enumOf('Skip', 'BufferOne', 'AllowAll', 'CancelOther');
export type OverlapPolicy = ValueOf<typeof OverlapPolicy>;

export const InitiatedByType = enumOf('User', 'ApiKey', 'NotSet');
export type InitiatedByType = ValueOf<typeof InitiatedByType>;

/** Who starts an execution, or cancels one: the caller as recorded (`initiatedBy*`, `cancelledBy*`); cron runs are `NotSet` with no id. */
export interface Initiator {
  type: InitiatedByType;
  id: string | null;
  name: string | null;
}

export const Role = enumOf('Administrator', 'Worker');
export type Role = ValueOf<typeof Role>;

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

/**
 * Life of a worker task: queued for a pool, claimed by a worker, then ended one way or another
 * (`Abandoned`: the step ended without the worker, by cancel, timeout or lost heartbeat, and the
 * worker must stop).
 */
export const WorkerTaskStatus = enumOf('Queued', 'Claimed', 'Completed', 'Abandoned');
export type WorkerTaskStatus = ValueOf<typeof WorkerTaskStatus>;

/** A worker on `GET /workers`: Online while it claimed or beat recently (see `WorkerService.list`). */
export const WorkerStatus = enumOf('Online', 'Offline');
export type WorkerStatus = ValueOf<typeof WorkerStatus>;
