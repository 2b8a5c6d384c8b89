import type { MetricName } from '../metrics.js';
import type { StepType } from '../model.js';
import type { EventPublisher, ExecutionStore, RecordChange, ServiceEvent, StoredStep } from '../ports.js';
import type { Execution } from '../schemas/execution.js';
import { executionOutcome, stepOutcome } from '../status-events.js';

export type FeedChange =
  | {
      table: 'executions';
      change: RecordChange<Execution>;
      /** Whether `before` was counted in its cell's counters, as the store's item said. */
      beforeInCell: boolean;
    }
  | { table: 'executionSteps'; change: RecordChange<StoredStep> };

/** The metrics a batch of changes yields, for the caller to emit (the domain knows no metrics library). */
export interface FeedMetrics {
  counts: Partial<Record<MetricName, number>>;
  steps: { stepType: StepType; durationSeconds?: number; failed: boolean }[];
}

/**
 * Follows the Executions and ExecutionSteps streams: publishes the events of status changes and
 * step failures, tallies the metrics, and finishes what retention starts: when TTL removes an
 * execution, its steps are deleted and it leaves the counters behind `totalCount`.
 */
export class ChangeFeed {
  constructor(private readonly deps: { events: EventPublisher; executions: ExecutionStore }) {}

  async apply(changes: readonly FeedChange[]): Promise<FeedMetrics> {
    const events: ServiceEvent[] = [];
    const metrics: FeedMetrics = { counts: {}, steps: [] };
    for (const feedChange of changes) {
      if (feedChange.table === 'executions') {
        const { change } = feedChange;
        if (change.before && !change.after) {
          await this.deps.executions.forget(change.before, feedChange.beforeInCell);
          continue;
        }
        const { event, metric } = executionOutcome(change);
        if (event) events.push(event);
        if (metric) metrics.counts[metric] = (metrics.counts[metric] ?? 0) + 1;
      } else {
        const outcome = stepOutcome(feedChange.change);
        if (!outcome) continue;
        const { event, ...step } = outcome;
        if (event) events.push(event);
        metrics.steps.push(step);
      }
    }
    if (events.length > 0) await this.deps.events.publish(events);
    return metrics;
  }
}
