import { duePartitionOf } from '../../due-partitions.js';
import { SIDE_BY_SIDE_POLICIES } from '../../overlap.js';
import type { ScheduleRunUpdate } from '../../ports.js';

/**
 * The Schedules table's keys and the one write on it that is not the schedule store's own. A run's
 * update of its schedule lives here, not in the schedule store: the execution store writes it, in
 * the transaction that creates the execution (an exclusive run) or just after it (side by side), so
 * a schedule names its last execution exactly when that execution exists.
 */

/** The partition key of the list of schedules (reservations of names have none). */
export const LIST_PK = 'SCHEDULE';

/** The due-index keys: present only while the schedule has a next fire time. */
export function dueAttributes(id: string, nextRunTime: string | null): Record<string, string> {
  return nextRunTime ? { duePartition: String(duePartitionOf(id)), dueAt: nextRunTime } : {};
}

/**
 * The schedule's side of a run: it names the new execution and records the run time. An exclusive
 * run's goes in the run's transaction, on condition of the version it was decided on, which it bumps
 * (so racing runs and fires of one schedule serialise, and an edit or delete meanwhile sends it back
 * to read the schedule again); a cron fire's also moves `nextRunTime` and the due index on. A run
 * recorded side by side sends it alone, after its own items, on condition only that the schedule
 * still exists and its policy still lets runs be recorded side by side.
 */
export function scheduleRunUpdate(
  tableName: string,
  scheduleId: string,
  executionId: string,
  run: ScheduleRunUpdate,
) {
  const sets = ['lastExecutionId = :id', 'lastRunTime = :ran'];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':id': executionId, ':ran': run.lastRunTime };
  let condition: string;
  if (run.exclusive) {
    condition = '#version = :version';
    names['#version'] = 'version';
    sets.push('#version = :next');
    Object.assign(values, { ':version': run.version, ':next': run.version + 1 });
  } else {
    const policies = SIDE_BY_SIDE_POLICIES.map((_, i) => `:policy${i}`);
    condition = `listPk = :list AND overlapPolicy IN (${policies.join(', ')})`;
    values[':list'] = LIST_PK;
    SIDE_BY_SIDE_POLICIES.forEach((policy, i) => {
      values[`:policy${i}`] = policy;
    });
  }
  let remove = '';
  if (run.fire) {
    sets.push('nextRunTime = :nextRun', 'missedCount = :missed');
    values[':nextRun'] = run.fire.nextRunTime;
    values[':missed'] = run.fire.missedCount;
    const due = dueAttributes(scheduleId, run.fire.nextRunTime);
    if (due.dueAt) {
      sets.push('duePartition = :duePartition', 'dueAt = :dueAt');
      Object.assign(values, { ':duePartition': due.duePartition, ':dueAt': due.dueAt });
    } else {
      remove = ' REMOVE duePartition, dueAt';
    }
  }
  return {
    Update: {
      TableName: tableName,
      Key: { id: scheduleId },
      UpdateExpression: `SET ${sets.join(', ')}${remove}`,
      ConditionExpression: condition,
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: values,
    },
  };
}
