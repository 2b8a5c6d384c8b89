/**
 * The step fields of the user's API page (docs/schedule-executions-api.md), in its order: every
 * response lists them first, then the additive fields.
 */
export const SEED_STEP_FIELDS = [
  'stepIndex',
  'name',
  'stepType',
  'executionMode',
  'connectedSystemId',
  'status',
  'taskId',
  'startedAt',
  'completedAt',
  'errorMessage',
  'activityId',
  'activityStatus',
];

/**
 * The seed fields a step has before it runs, and again when a retry runs it afresh: `Pending`, and
 * null in every field the page lists after `status` (the task, times, error and activity of a run).
 */
export const NOT_RUN_STEP = {
  status: 'Pending',
  ...Object.fromEntries(
    SEED_STEP_FIELDS.slice(SEED_STEP_FIELDS.indexOf('status') + 1).map((field) => [field, null]),
  ),
};
