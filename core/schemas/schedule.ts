import { z } from 'zod';
import { describeCronProblem, isValidTimeZone } from '../cron.js';
import { ExecutionMode, ExecutionStatus, OverlapPolicy, StepType, TriggerType } from '../model.js';
import { Guid, IsoDateTime, PageQuery, PoolName, paged, queryBoolean, queryInteger } from './common.js';

/** Upper bound on steps: an execution and all its step rows are written in one DynamoDB transaction (100 items). */
export const MAX_STEPS = 90;

/** An empty required text says so in words an operator reads beside the field (zod's own is about lengths). */
const requiredText = (max: number) => z.string().trim().min(1, 'Required').max(max);

const stepCommon = {
  /** Optional on input: keeps a step's id stable across a PUT; a new id is assigned when absent. */
  id: Guid.optional(),
  name: requiredText(200),
  executionMode: z.enum(ExecutionMode).default(ExecutionMode.Sequential),
  continueOnFailure: z.boolean().default(false),
  timeoutSeconds: z.number().int().min(1).max(86_400).default(3600),
  workerPool: PoolName.default('default'),
};

const argumentsField = z.string().max(2000).nullish();
const path = requiredText(1024);

export const RunProfileStepInput = z.strictObject({
  ...stepCommon,
  stepType: z.literal(StepType.RunProfile),
  connectedSystemId: z.number().int().min(1),
  runProfileName: requiredText(200),
});
export const PowerShellStepInput = z.strictObject({
  ...stepCommon,
  stepType: z.literal(StepType.PowerShell),
  scriptPath: path,
  arguments: argumentsField,
});
export const ExecutableStepInput = z.strictObject({
  ...stepCommon,
  stepType: z.literal(StepType.Executable),
  executablePath: path,
  arguments: argumentsField,
  workingDirectory: path.nullish(),
});
export const SqlScriptStepInput = z.strictObject({
  ...stepCommon,
  stepType: z.literal(StepType.SqlScript),
  /** The name of a connection configured on the worker; connection strings never reach the service. */
  sqlConnection: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, {
    error: 'Must be a connection name (letters, digits, . _ -), not a connection string',
  }),
  sqlScriptPath: path,
});

export const StepInput = z.discriminatedUnion(
  'stepType',
  [RunProfileStepInput, PowerShellStepInput, ExecutableStepInput, SqlScriptStepInput],
  { error: `Required: one of ${Object.values(StepType).join(', ')}` },
);
export type StepInput = z.infer<typeof StepInput>;

export const ScheduleInput = z
  .strictObject({
    name: requiredText(200),
    description: z.string().max(1000).nullish(),
    triggerType: z.enum(TriggerType),
    cronExpression: z
      .string()
      .trim()
      .max(200)
      .superRefine((expression, ctx) => {
        const problem = describeCronProblem(expression);
        if (problem) ctx.addIssue({ code: 'custom', message: `Invalid cron expression: ${problem}` });
      })
      .nullish(),
    timeZone: z
      .string()
      .max(64)
      .refine(isValidTimeZone, 'Must be an IANA time zone such as Europe/London or UTC')
      .default('UTC'),
    isEnabled: z.boolean().default(false),
    overlapPolicy: z.enum(OverlapPolicy).default(OverlapPolicy.Skip),
    catchupWindowSeconds: z.number().int().min(0).max(604_800).default(300),
    steps: z.array(StepInput).max(MAX_STEPS).default([]),
  })
  .refine((schedule) => schedule.triggerType !== TriggerType.Cron || !!schedule.cronExpression, {
    path: ['cronExpression'],
    message: 'Required when triggerType is Cron',
    // Checked even when other fields are invalid, so every problem is reported at once.
    when: (payload) =>
      typeof payload.value === 'object' &&
      payload.value !== null &&
      payload.issues.every((issue) => issue.path?.[0] !== 'cronExpression'),
  });
export type ScheduleInput = z.infer<typeof ScheduleInput>;

const stored = { id: Guid, stepIndex: z.number().int().min(0) };
export const ScheduleStep = z
  .discriminatedUnion('stepType', [
    RunProfileStepInput.extend(stored),
    PowerShellStepInput.extend(stored),
    ExecutableStepInput.extend(stored),
    SqlScriptStepInput.extend(stored),
  ])
  .meta({ id: 'ScheduleStep' });
export type ScheduleStep = z.infer<typeof ScheduleStep>;

export const ScheduleSummary = z
  .object({
    id: Guid,
    name: z.string(),
    description: z.string().nullable(),
    triggerType: z.enum(TriggerType),
    cronExpression: z.string().nullable(),
    timeZone: z.string(),
    isEnabled: z.boolean(),
    overlapPolicy: z.enum(OverlapPolicy),
    catchupWindowSeconds: z.number().int(),
    nextRunTime: IsoDateTime.nullable(),
    /** When the last execution was queued: a manual run's request time, a cron run's fire time. */
    lastRunTime: IsoDateTime.nullable(),
    /** Additive: cron fire times not run because the overlap policy refused them. */
    skippedCount: z.number().int(),
    /** Additive: cron fire times that passed while the service could not fire them and were too old to catch up. */
    missedCount: z.number().int(),
    stepCount: z.number().int(),
    created: IsoDateTime,
    lastUpdated: IsoDateTime,
    lastExecutionId: Guid.nullable(),
    lastExecutionStatus: z.enum(ExecutionStatus).nullable(),
  })
  .meta({ id: 'ScheduleSummary' });
export type ScheduleSummary = z.infer<typeof ScheduleSummary>;

export const Schedule = ScheduleSummary.extend({ steps: z.array(ScheduleStep) }).meta({ id: 'Schedule' });
export type Schedule = z.infer<typeof Schedule>;

export const ScheduleSortBy = ['name', 'enabled', 'lastRunTime', 'nextRunTime', 'created'] as const;
export type ScheduleSortBy = (typeof ScheduleSortBy)[number];

export const ListSchedulesQuery = PageQuery.extend({
  search: z.string().trim().max(200).optional(),
  sortBy: z.enum(ScheduleSortBy).default('created'),
  sortDescending: queryBoolean.default(false),
});
export type ListSchedulesQuery = z.infer<typeof ListSchedulesQuery>;

export const PagedSchedules = paged(ScheduleSummary).meta({ id: 'PagedSchedules' });

export const RunScheduleResult = z
  .object({ executionId: Guid, status: z.enum(ExecutionStatus), message: z.string() })
  .meta({ id: 'RunScheduleResult' });
export type RunScheduleResult = z.infer<typeof RunScheduleResult>;

export const NextRunsQuery = z.strictObject({
  count: queryInteger(1, 100).default(10),
});
export type NextRunsQuery = z.infer<typeof NextRunsQuery>;

export const NextRuns = z
  .object({
    scheduleId: Guid,
    cronExpression: z.string(),
    timeZone: z.string(),
    /** A disabled schedule shows when it would fire if it were enabled now. */
    isEnabled: z.boolean(),
    nextRuns: z.array(IsoDateTime),
  })
  .meta({ id: 'NextRuns' });
export type NextRuns = z.infer<typeof NextRuns>;
