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
