import type { Clock, ScheduleRecord, ScheduleStore } from '../ports.js';
import { systemClock } from '../ports.js';
import { FireOutcome, type FireResult, type ScheduleService } from './schedules.js';

export interface DispatcherSettings {
  /** Schedules fired at once; each fire is a few DynamoDB round trips and one StartExecution. */
  concurrency: number;
  /**
   * Stop taking up due schedules after this long (ms of real time), so a tick ends before the next
   * one starts; whatever is left stays due and the next tick takes it first (longest due first).
   */
  budgetMs: number;
}

export const DEFAULT_DISPATCHER_SETTINGS: DispatcherSettings = { concurrency: 32, budgetMs: 45_000 };

/** Due schedules read in one BatchGetItem (its limit), as the lanes reach them. */
const READ_BATCH = 100;

export interface DispatchReport {
  due: number;
  started: number;
  skipped: number;
  /** Fires where nothing ran because every due fire time was too old. */
  missedFires: number;
  /** Fire times counted as missed, over all schedules. */
  missedFireTimes: number;
  notDue: number;
  failed: number;
  /** Left for the next tick: the budget ran out. */
  deferred: number;
  /** For each run started: milliseconds from its fire time to its execution being queued. */
  lagsMs: number[];
}

export interface DispatcherDeps {
  schedules: ScheduleStore;
  scheduleService: ScheduleService;
  clock?: Clock;
  settings?: DispatcherSettings;
  /** Told about a schedule that could not be fired; it stays due and is retried next tick. */
  onFireError?: (scheduleId: string, error: unknown) => void;
}

/**
 * One tick of the cron trigger (EventBridge every minute in the cloud, a ticker locally): reads the
 * due schedules from the due index and fires each once. Safe to run any number of times at once:
 * each fire is claimed by a conditional write, so a duplicate tick finds the schedule not due.
 */
export class Dispatcher {
  private readonly clock: Clock;
  private readonly settings: DispatcherSettings;

  constructor(private readonly deps: DispatcherDeps) {
    this.clock = deps.clock ?? systemClock;
    this.settings = deps.settings ?? DEFAULT_DISPATCHER_SETTINGS;
  }

  /** Fires the due schedules of the given partitions (all by default; see due-partitions.ts). */
  async tick(partitions?: readonly number[]): Promise<DispatchReport> {
    const startedAt = performance.now();
    const due = await this.deps.schedules.listDue(this.clock.now().toISOString(), partitions);
    const report: DispatchReport = {
      due: due.length,
      started: 0,
      skipped: 0,
      missedFires: 0,
      missedFireTimes: 0,
      notDue: 0,
      failed: 0,
      deferred: 0,
      lagsMs: [],
    };
    // One read per READ_BATCH schedules instead of one each, made when the first lane reaches the
    // batch (so a record is at most a few fires old, and a deferred batch is never read) and dropped
    // from here when the last one does. A failed read leaves each fire to read its own schedule.
    const batches = new Map<number, Promise<Map<string, ScheduleRecord>>>();
    const readOf = (n: number): Promise<ScheduleRecord | undefined> => {
      const batch = Math.floor(n / READ_BATCH);
      let records = batches.get(batch);
      if (!records) {
        const ids = due.slice(batch * READ_BATCH, (batch + 1) * READ_BATCH);
        records = this.deps.schedules.getMany(ids).catch(() => new Map());
        batches.set(batch, records);
      }
      if (n % READ_BATCH === READ_BATCH - 1) batches.delete(batch);
      return records.then((found) => found.get(due[n] as string));
    };
    let next = 0;
    const lane = async () => {
      while (next < due.length) {
        const n = next++;
        const scheduleId = due[n] as string;
        if (performance.now() - startedAt > this.settings.budgetMs) {
          report.deferred += 1;
          continue;
        }
        try {
          this.count(report, await this.deps.scheduleService.fireDue(scheduleId, await readOf(n)));
        } catch (error) {
          report.failed += 1;
          this.deps.onFireError?.(scheduleId, error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.concurrency, due.length) }, lane));
    return report;
  }

  private count(report: DispatchReport, result: FireResult): void {
    report.missedFireTimes += result.missed;
    switch (result.outcome) {
      case FireOutcome.Started:
        report.started += 1;
        if (result.fireTime && result.queuedAt) {
          report.lagsMs.push(Date.parse(result.queuedAt) - Date.parse(result.fireTime));
        }
        break;
      case FireOutcome.Skipped:
        report.skipped += 1;
        break;
      case FireOutcome.Missed:
        report.missedFires += 1;
        break;
      case FireOutcome.NotDue:
        report.notDue += 1;
        break;
    }
  }
}
