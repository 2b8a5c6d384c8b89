import { z } from 'zod';
import {
  ActivityStatus,
  ExecutionMode,
  ExecutionStatus,
  InitiatedByType,
  OverlapPolicy,
  StepStatus,
  StepType,
} from '../model.js';
import { CursorPageQuery, Guid, IsoDateTime, paged, queryBoolean } from './common.js';

export const Execution = z
  .object({
    id: Guid,
    scheduleId: Guid,
    scheduleName: z.string(),
    status: z.enum(ExecutionStatus),
    currentStepIndex: z.number().int(),
    totalSteps: z.number().int(),
    queuedAt: IsoDateTime,
    startedAt: IsoDateTime.nullable(),
    completedAt: IsoDateTime.nullable(),
    initiatedByType: z.enum(InitiatedByType),
    initiatedById: z.string().nullable(),
    initiatedByName: z.string().nullable(),
    errorMessage: z.string().nullable(),
    /** Additive: the schedule's overlap policy when the execution was queued (BufferOne waits its turn). */
    overlapPolicy: z.enum(OverlapPolicy),
    /** Additive: the cron fire time this execution runs for; null for manual runs. */
    scheduledFor: IsoDateTime.nullable(),
    /** Additive: who cancelled the execution, when it was cancelled. */
    cancelledById: z.string().nullable(),
    cancelledByName: z.string().nullable(),
    /** Additive: the execution this one retries (POST /schedule-executions/{id}/retry); null otherwise. */
    retryOfExecutionId: Guid.nullable(),
    /** Additive: the latest retry of this execution, once it has been retried. */
    retriedByExecutionId: Guid.nullable(),
  })
  .meta({ id: 'Execution' });
export type Execution = z.infer<typeof Execution>;

export const ExecutionStep = z
  .object({
    stepIndex: z.number().int(),
    name: z.string(),
    stepType: z.enum(StepType),
    executionMode: z.enum(ExecutionMode),
    connectedSystemId: z.number().int().nullable(),
    status: z.enum(StepStatus),
    taskId: Guid.nullable(),
    startedAt: IsoDateTime.nullable(),
    completedAt: IsoDateTime.nullable(),
    errorMessage: z.string().nullable(),
    activityId: z.string().nullable(),
    activityStatus: z.enum(ActivityStatus).nullable(),
    /** Additive: the step's id in the schedule it was snapshotted from. */
    stepId: Guid,
    continueOnFailure: z.boolean(),
    timeoutSeconds: z.number().int(),
    workerPool: z.string(),
    /** Additive (run insight): the newest 16 KB (UTF-8) of what the step printed or its adapter returned. */
    output: z.string().nullable().meta({
      description:
        'The tail of what the step printed or its adapter returned, as its worker reported it (heartbeats, then the completion): at most 16 KB of UTF-8, the newest text kept. Null until reported.',
    }),
    /** Additive: the latest heartbeat's message. */
    progressMessage: z
      .string()
      .nullable()
      .meta({ description: "The latest heartbeat's message, or null (none sent, or the latest had none)." }),
    /** Additive: when the claiming worker last beat (the claim counts as the first beat). */
    lastHeartbeatAt: IsoDateTime.nullable().meta({
      description: 'When the claiming worker last reported (claim or heartbeat); null before a claim.',
    }),
    /** Additive: the workerId that claimed the step's task. */
    workerId: z
      .string()
      .nullable()
      .meta({ description: "The claiming worker's workerId; null before a claim." }),
    /**
     * Additive, on the steps of a retry only: true for a step of a stage before the one the retry
     * started at, copied from the original as it ended and never run again; false for one it runs.
     */
    carriedOver: z.boolean().optional(),
  })
  .meta({ id: 'ExecutionStep' });
export type ExecutionStep = z.infer<typeof ExecutionStep>;

/** The step fields of run insight: what the step's worker reported, shown on `GET /schedule-executions/{id}`. */
export const STEP_INSIGHT_FIELDS = ['output', 'progressMessage', 'lastHeartbeatAt', 'workerId'] as const;
export type StepInsightField = (typeof STEP_INSIGHT_FIELDS)[number];

export const ExecutionDetail = Execution.extend({ steps: z.array(ExecutionStep) }).meta({
  id: 'ExecutionDetail',
});
export type ExecutionDetail = z.infer<typeof ExecutionDetail>;

export const ExecutionSortBy = ['queuedAt', 'startedAt', 'completedAt', 'status'] as const;
export type ExecutionSortBy = (typeof ExecutionSortBy)[number];

const EXECUTION_STATUSES: readonly string[] = Object.values(ExecutionStatus);

/** `status=Completed,Failed`: one or more execution statuses, each named once in the result. */
const StatusList = z
  .string()
  .meta({ description: `Comma-separated execution statuses: ${EXECUTION_STATUSES.join(', ')}` })
  .transform((value, ctx) => {
    const statuses = value.split(',').map((status) => status.trim());
    const unknown = statuses.filter((status) => !EXECUTION_STATUSES.includes(status));
    if (unknown.length > 0) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `Unknown status ${unknown.map((s) => `'${s}'`).join(', ')}: expected a comma-separated list of ${EXECUTION_STATUSES.join(', ')}`,
      });
      return z.NEVER;
    }
    return [...new Set(statuses)].sort() as ExecutionStatus[];
  });

/**
 * A `from`/`to` bound, held as UTC `toISOString()` text: the form queuedAt is stored in, so they compare
 * as strings. Stored times have milliseconds; a finer `from` rounds up (Date truncates) so that neither
 * bound takes in a time outside the range.
 */
const queuedAtBound = (round: 'up' | 'down') =>
  IsoDateTime.transform((value) => {
    const finer = /\.\d{3}\d*[1-9]/.test(value);
    return new Date(Date.parse(value) + (round === 'up' && finer ? 1 : 0)).toISOString();
  });

export const ListExecutionsQuery = CursorPageQuery.extend({
  scheduleId: Guid.optional(),
  status: StatusList.optional(),
  initiatedByType: z.enum(InitiatedByType).optional(),
  /** Inclusive bounds on queuedAt. */
  from: queuedAtBound('up').optional(),
  to: queuedAtBound('down').optional(),
  sortBy: z.enum(ExecutionSortBy).default('queuedAt'),
  sortDescending: queryBoolean.default(true),
}).refine((query) => !query.from || !query.to || query.from <= query.to, {
  path: ['from'],
  message: 'Must not be later than to',
});
export type ListExecutionsQuery = z.infer<typeof ListExecutionsQuery>;

export const PagedExecutions = paged(Execution).meta({ id: 'PagedExecutions' });
export const ActiveExecutions = z.array(Execution).meta({ id: 'ActiveExecutions' });

/** `POST /schedule-executions/{id}/retry`: the body is optional, and so is its one field. */
export const RetryExecutionInput = z
  .strictObject({
    /**
     * The stage (step index) the retry starts at; by default the first stage in which a step did not
     * end Completed or Completed with Warning. Earlier stages are carried over, not run again.
     */
    fromStepIndex: z.number().int().min(0).optional(),
  })
  .optional();
export type RetryExecutionInput = z.infer<typeof RetryExecutionInput>;
