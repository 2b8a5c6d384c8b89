import { MAX_SCHEDULE_BYTES } from '../../../core/adapters/dynamodb/schedule-store.js';
import { ALL_DUE_PARTITIONS, duePartitionOf } from '../../../core/due-partitions.js';
import { ConflictError, ValidationError } from '../../../core/errors.js';
import type { ScheduleRecord, ScheduleStore } from '../../../core/ports.js';
import { StaleVersionError } from '../../../core/ports.js';
import { copy, type MemoryTables, readMany } from './tables.js';

/** Names are unique regardless of case and surrounding spaces, as DynamoScheduleStore's reservations. */
export const nameKey = (name: string) => `name#${name.trim().toLowerCase()}`;

/**
 * The condition of an edit or delete in DynamoScheduleStore (`unchangedSince`): the stored schedule
 * exists, is at `previous.version`, and names the execution `previous` named (none: none).
 */
export function unchangedSince(stored: ScheduleRecord | undefined, previous: ScheduleRecord): boolean {
  if (!stored || stored.version !== previous.version) return false;
  return previous.lastExecutionId
    ? stored.lastExecutionId === previous.lastExecutionId
    : stored.lastExecutionId === null || stored.lastExecutionId === undefined;
}

/**
 * ScheduleStore in memory, with DynamoScheduleStore's conditions: a name clash is a ConflictError
 * (checked before the version, as the adapter reports the reservation first), a changed schedule a
 * StaleVersionError, an item over MAX_SCHEDULE_BYTES a ValidationError naming `steps`.
 *
 * Where it is not exact: the adapter's listAll and listDue read eventually consistent indexes, so
 * right after a write they may lag; here they never do. listAll orders by `created` (the index's
 * sort key), ties by insertion, where DynamoDB's tie order is its own.
 */
export class MemoryScheduleStore implements ScheduleStore {
  constructor(private readonly db: MemoryTables) {}

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const stored = this.db.schedules.get(id);
    return stored && copy(stored);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, ScheduleRecord>> {
    return readMany(this.db.schedules, ids, copy);
  }

  async create(schedule: ScheduleRecord): Promise<void> {
    checkSize(schedule);
    this.checkName(schedule.name);
    if (this.db.schedules.has(schedule.id))
      throw new StaleVersionError('The schedule changed since it was read.');
    this.db.scheduleNames.set(nameKey(schedule.name), schedule.id);
    this.db.schedules.set(schedule.id, copy(schedule));
  }

  async replace(schedule: ScheduleRecord, previous: ScheduleRecord): Promise<void> {
    checkSize(schedule);
    const renamed = nameKey(schedule.name) !== nameKey(previous.name);
    if (renamed) this.checkName(schedule.name);
    if (!unchangedSince(this.db.schedules.get(previous.id), previous)) {
      throw new StaleVersionError('The schedule changed since it was read.');
    }
    if (renamed) {
      this.db.scheduleNames.set(nameKey(schedule.name), schedule.id);
      this.db.scheduleNames.delete(nameKey(previous.name));
    }
    this.db.schedules.set(schedule.id, copy(schedule));
  }

  async delete(previous: ScheduleRecord): Promise<void> {
    if (!unchangedSince(this.db.schedules.get(previous.id), previous)) {
      throw new StaleVersionError('The schedule changed since it was read.');
    }
    this.db.schedules.delete(previous.id);
    this.db.scheduleNames.delete(nameKey(previous.name));
  }

  async listAll(): Promise<ScheduleRecord[]> {
    return [...this.db.schedules.values()].sort((a, b) => a.created.localeCompare(b.created)).map(copy);
  }

  async listDue(now: string, partitions: readonly number[] = ALL_DUE_PARTITIONS): Promise<string[]> {
    return [...this.db.schedules.values()]
      .filter(
        (s) => s.nextRunTime !== null && s.nextRunTime <= now && partitions.includes(duePartitionOf(s.id)),
      )
      .sort((a, b) => String(a.nextRunTime).localeCompare(String(b.nextRunTime)))
      .map((s) => s.id);
  }

  private checkName(name: string): void {
    if (this.db.scheduleNames.has(nameKey(name))) {
      throw new ConflictError(`A schedule named '${name}' already exists.`, { name });
    }
  }
}

/** The adapter's size check: the item as JSON (with its index keys), in UTF-8 bytes. */
function checkSize(schedule: ScheduleRecord): void {
  const due = schedule.nextRunTime
    ? { duePartition: String(duePartitionOf(schedule.id)), dueAt: schedule.nextRunTime }
    : {};
  const bytes = Buffer.byteLength(JSON.stringify({ ...schedule, listPk: 'SCHEDULE', ...due }));
  if (bytes > MAX_SCHEDULE_BYTES) {
    throw new ValidationError({
      steps: [
        `The schedule would be stored as ${bytes} bytes (UTF-8), over the limit of ${MAX_SCHEDULE_BYTES}: use fewer or shorter steps`,
      ],
    });
  }
}
