import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { SERVICE_NAME } from '../../metrics.js';
import type { EventPublisher, ServiceEvent } from '../../ports.js';
import { chunk } from '../dynamodb/client.js';

/** PutEvents takes at most 10 entries a call. */
const MAX_ENTRIES = 10;

/**
 * Publishes the service's events to an EventBridge bus (the account's default bus unless named),
 * with `source` = the service name, so a rule such as
 * `{ "source": ["schedule-execution-service"], "detail-type": ["Schedule Execution Status Change"],
 * "detail": { "status": ["Failed"] } }` routes them without code.
 */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient = new EventBridgeClient({}),
    private readonly eventBusName?: string,
  ) {}

  async publish(events: readonly ServiceEvent[]): Promise<void> {
    for (const part of chunk(events, MAX_ENTRIES)) {
      let pending: PutEventsRequestEntry[] = part.map((event) => ({
        Source: SERVICE_NAME,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
        ...(this.eventBusName ? { EventBusName: this.eventBusName } : {}),
      }));
      // A partial failure lists the failed entries in order; send those once more, then give up
      // (the stream batch is retried as a whole).
      for (let attempt = 1; pending.length > 0; attempt++) {
        const result = await this.client.send(new PutEventsCommand({ Entries: pending }));
        const failed = pending.filter((_, i) => result.Entries?.[i]?.ErrorCode);
        if (failed.length > 0 && attempt >= 2) {
          const codes = [
            ...new Set((result.Entries ?? []).flatMap((e) => (e.ErrorCode ? [e.ErrorCode] : []))),
          ];
          throw new Error(`EventBridge refused ${failed.length} event(s): ${codes.join(', ')}`);
        }
        pending = failed;
      }
    }
  }
}
