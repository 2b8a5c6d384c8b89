import { z } from 'zod';
import { WorkerStatus } from '../model.js';
import { type FinalActivityStatus, STEP_STATUS_BY_ACTIVITY } from '../transitions.js';
import { Guid, IsoDateTime, PoolName } from './common.js';
import { ScheduleStep } from './schedule.js';

/**
 * Bounds of the worker endpoints' requests. The worker (worker/) keeps within them: a claim or a
 * report over them would be refused, and a refused report is lost.
 */
export const WORKER_LIMITS = {
  /** Pools one claim may name. */
  pools: 20,
  /** Tasks one claim may ask for. */
  maxTasks: 20,
  /** Longest long poll of a claim, in seconds (API Gateway allows 29 s a request). */
  waitSeconds: 20,
  /** Characters of a heartbeat's message. */
  heartbeatMessage: 1000,
  /** Characters of a completion's `errorMessage`, `activityId` and `output` (a heartbeat's `output` too). */
  errorMessage: 4000,
  activityId: 200,
  output: 65_536,
} as const;

/** The activity statuses a step ends with, as a completion reports them. */
export const FINAL_ACTIVITY_STATUSES = Object.keys(STEP_STATUS_BY_ACTIVITY) as [
  FinalActivityStatus,
  ...FinalActivityStatus[],
];

const WorkerId = z
  .string()
  .regex(/^[A-Za-z0-9._:@-]{1,128}$/, { error: 'Must be 1-128 letters, digits or . _ : @ -' });

/**
 * On heartbeat and complete: the workerId the caller claimed the task as. Optional (a client that
 * sends only the contract's fields is bound by its credential alone); when given, it must match.
 */
const ClaimantWorkerId = WorkerId.optional().meta({
  description: 'The workerId the task was claimed as; another one is refused with 403 FORBIDDEN.',
});

export const ClaimInput = z.strictObject({
  workerId: WorkerId,
  pools: z.array(PoolName).min(1).max(WORKER_LIMITS.pools).meta({
    description:
      'The pools to claim from; each must be one the credential may serve, or the claim is refused (403).',
  }),
  maxTasks: z.number().int().min(1).max(WORKER_LIMITS.maxTasks).default(1),
  /** Long poll: how long to wait for a task when none is queued. */
  waitSeconds: z.number().int().min(0).max(WORKER_LIMITS.waitSeconds).default(0),
  requestId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, { error: 'Must be 1-64 letters, digits or . _ : -' })
    .optional()
    .meta({
      description:
        'Chosen by the worker, new for each claim and the same on its retries: a claim repeating the ' +
        'requestId of this credential and workerId gets back the tasks that request claimed, so a lost answer strands none.',
    }),
});
export type ClaimInput = z.infer<typeof ClaimInput>;

export const ClaimedTask = z
  .object({
    taskId: Guid,
    executionId: Guid,
    scheduleName: z.string(),
    step: ScheduleStep,
    timeoutSeconds: z.number().int(),
    heartbeatIntervalSeconds: z.number().int(),
  })
  .meta({ id: 'ClaimedTask' });

export const ClaimResult = z.object({ tasks: z.array(ClaimedTask) }).meta({ id: 'ClaimResult' });

export const TaskParams = z.strictObject({ taskId: Guid });

export const HeartbeatInput = z
  .strictObject({
    workerId: ClaimantWorkerId,
    message: z.string().max(WORKER_LIMITS.heartbeatMessage).optional(),
    output: z.string().max(WORKER_LIMITS.output).optional().meta({
      description:
        "The tail of what the step printed so far; the step's output shows its newest 16 KB (UTF-8). Without it the previous output stays.",
    }),
  })
  .default({});
export const HeartbeatResult = z
  .object({ cancellationRequested: z.boolean() })
  .meta({ id: 'HeartbeatResult' });

export const CompleteInput = z.strictObject({
  workerId: ClaimantWorkerId,
  activityStatus: z.enum(FINAL_ACTIVITY_STATUSES),
  errorMessage: z.string().max(WORKER_LIMITS.errorMessage).nullish(),
  activityId: z.string().max(WORKER_LIMITS.activityId).nullish(),
  /** What the step printed last (e.g. a stdout tail); the step's output shows its newest 16 KB (UTF-8). */
  output: z.string().max(WORKER_LIMITS.output).nullish(),
});
export type CompleteInput = z.infer<typeof CompleteInput>;

export const CompleteResult = z
  .object({
    /** False when the step had already ended without this worker (cancelled, timed out). */
    accepted: z.boolean(),
    stepStatus: z.string(),
  })
  .meta({ id: 'CompleteResult' });

export const RunningTask = z
  .object({
    taskId: Guid,
    executionId: Guid,
    stepName: z.string(),
    /** When the worker claimed it. */
    since: IsoDateTime,
  })
  .meta({ id: 'RunningTask' });

export const WorkerSummary = z
  .object({
    workerId: z.string(),
    pools: z.array(z.string()).meta({ description: 'The pools of its latest claim.' }),
    status: z.enum([WorkerStatus.Online, WorkerStatus.Offline]).meta({
      description: 'Online while it claimed or beat within the last 2 × its waitSeconds (at least 60 s).',
    }),
    lastSeenAt: IsoDateTime,
    runningTasks: z.array(RunningTask),
  })
  .meta({ id: 'Worker' });
export type WorkerSummary = z.infer<typeof WorkerSummary>;

export const WorkerList = z.array(WorkerSummary).meta({
  id: 'WorkerList',
  description: 'Workers heard from within the last day, most recently seen first.',
});
