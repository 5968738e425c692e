import { TRACEPARENT, type KafkaProducer } from '@muxly/common';
import { RAW_FORMATS, type RawEnvelope } from '@muxly/schemas';
import type { ConnectorPage, SyncSink } from '../connectors/index.ts';

export interface RawSinkOptions {
  producer: KafkaProducer;
  topic: string;
  connector: { id: string; type: string };
  executionId: string;
  recordsPerMessage: number;
  /** The sync's trace: every record carries it, so the transformer's spans join the run's trace. */
  traceparent?: string | undefined;
  now?: () => Date;
}

/**
 * Writes each page of a sync to `<prefix>raw` as `connector.records.v1` envelopes (the format the
 * transformer normalizes), split into messages of at most `recordsPerMessage` records, and
 * resolves only when Kafka acknowledged all of them (acks=all): runSync advances the cursor after.
 */
export class RawSink implements SyncSink {
  readonly #options: RawSinkOptions;
  published = 0;

  constructor(options: RawSinkOptions) {
    this.#options = options;
  }

  async publish(page: ConnectorPage): Promise<void> {
    const { connector, executionId, recordsPerMessage, topic } = this.#options;
    const receivedAt = (this.#options.now?.() ?? new Date()).toISOString();
    const messages = [];
    for (let start = 0; start < page.records.length; start += recordsPerMessage) {
      const envelope: RawEnvelope = {
        envelopeVersion: 1,
        format: RAW_FORMATS.connectorRecords,
        source: { type: connector.type, id: connector.id },
        connectorId: connector.id,
        jobExecutionId: executionId,
        receivedAt,
        payload: { stream: page.stream, records: page.records.slice(start, start + recordsPerMessage) },
      };
      messages.push({
        topic,
        key: `${connector.id}:${page.stream}`,
        value: JSON.stringify(envelope),
        ...(this.#options.traceparent ? { headers: { [TRACEPARENT]: this.#options.traceparent } } : {}),
      });
    }
    await this.#options.producer.send(messages);
    this.published += page.records.length;
  }
}
