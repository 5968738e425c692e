import {
  compileValidator,
  encodeWireFormat,
  errorMessage,
  noTracing,
  SpanKind,
  TRACEPARENT,
  traceparentOf,
  type ConsumedRecord,
  type OutgoingRecord,
  type Tracing,
} from '@muxly/common';
import { DLQ_HEADERS, eventKey, RawEnvelope, scopedEventId, sourceScope, UnifiedEvent } from '@muxly/schemas';
import type { DedupWindow } from './dedup.ts';
import { normalizerFor } from './normalizers/registry.ts';

const validateEnvelope = compileValidator(RawEnvelope);
/** The trace headers of a record without a trace (shared: never written to). */
const NO_TRACE: Readonly<Record<string, string>> = Object.freeze({});
const validateEvent = compileValidator(UnifiedEvent);

export interface ProcessedChunk {
  records: OutgoingRecord[];
  /** The dedup keys of the events written (forgotten again if the transaction aborts). */
  dedupKeys: string[];
  counts: { events: number; deadLetters: number; duplicates: number };
}

export interface RawProcessorOptions {
  eventsTopic: string;
  dlqTopic: string;
  schemaId: number;
  dedup: DedupWindow;
  /** A span per raw record that carries a trace; the records written from it carry the span's traceparent. */
  tracing?: Tracing;
  now?: () => Date;
}

/**
 * Turns a chunk of raw records into the records to write: encoded events for `muxly.events` and
 * dead letters for `muxly.dlq`. Pure apart from the dedup window, so the caller can write the
 * result and the consumed offsets in one transaction.
 */
export function processRawChunk(
  messages: ConsumedRecord[],
  source: { topic: string; partition: number },
  options: RawProcessorOptions,
): ProcessedChunk {
  const now = options.now ?? (() => new Date());
  const out: ProcessedChunk = { records: [], dedupKeys: [], counts: { events: 0, deadLetters: 0, duplicates: 0 } };

  let currentTrace: Record<string, string> = NO_TRACE;
  const deadLetter = (
    message: ConsumedRecord,
    value: Buffer | string,
    errorClass: string,
    reason: string,
    index?: number,
    envelope?: RawEnvelope,
  ) => {
    const headers: Record<string, string> = {
      [DLQ_HEADERS.originalTopic]: source.topic,
      [DLQ_HEADERS.originalPartition]: String(source.partition),
      [DLQ_HEADERS.originalOffset]: message.offset,
      [DLQ_HEADERS.stage]: 'transformer',
      [DLQ_HEADERS.errorClass]: errorClass,
      [DLQ_HEADERS.errorMessage]: reason.slice(0, 2_000),
      [DLQ_HEADERS.attempts]: '1',
      [DLQ_HEADERS.firstFailedAt]: now().toISOString(),
      // A dead letter stays in the trace of the record it came from.
      ...currentTrace,
    };
    if (index !== undefined && index >= 0) {
      headers[DLQ_HEADERS.originalIndex] = String(index);
      if (envelope) headers[DLQ_HEADERS.rawEnvelope] = envelopeWithoutItems(envelope);
    }
    out.records.push({ topic: options.dlqTopic, key: message.key, value, headers });
    out.counts.deadLetters += 1;
  };

  const tracing = options.tracing ?? noTracing;
  for (const message of messages) {
    // NOTE: synchronous on purpose (this runs inside the transaction loop): starting and ending a
    // span only fills a buffer that is exported on a timer. A record without a traceparent (written
    // before tracing existed) gets no span: there is no trace to join.
    const parent = traceparentOf(message.headers);
    const span = parent
      ? tracing.startSpan('normalize', {
          parent,
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'process',
            'messaging.destination.name': source.topic,
            'messaging.destination.partition.id': String(source.partition),
            'messaging.kafka.offset': Number(message.offset),
          },
        })
      : undefined;
    currentTrace = span?.traceparent ? { [TRACEPARENT]: span.traceparent } : NO_TRACE;
    const before = { events: out.counts.events, deadLetters: out.counts.deadLetters };
    processRecord(message, currentTrace);
    span?.setAttributes({
      'muxly.events.written': out.counts.events - before.events,
      'muxly.dead_letters.written': out.counts.deadLetters - before.deadLetters,
    });
    span?.end();
  }
  return out;

  function processRecord(message: ConsumedRecord, traceHeaders: Record<string, string>): void {
    if (!message.value) {
      deadLetter(message, Buffer.alloc(0), 'InvalidEventError', 'empty record value');
      return;
    }
    let envelope: RawEnvelope;
    try {
      envelope = JSON.parse(message.value.toString('utf8')) as RawEnvelope;
    } catch (error) {
      deadLetter(message, message.value, 'InvalidEventError', `not JSON: ${errorMessage(error)}`);
      return;
    }
    const envelopeProblems = validateEnvelope(envelope);
    if (envelopeProblems.length > 0) {
      deadLetter(message, message.value, 'InvalidEventError', `invalid raw envelope: ${envelopeProblems.join('; ')}`);
      return;
    }
    const normalize = normalizerFor(envelope.format);
    if (!normalize) {
      deadLetter(message, message.value, 'InvalidEventError', `unknown raw format "${envelope.format}"`);
      return;
    }
    const { events, rejected } = normalize(envelope);
    // The normalizers give every event the envelope's source: its part of the scoped id is made once.
    const scope = sourceScope(envelope.source);
    for (const item of rejected) {
      const value = item.index < 0 ? message.value : JSON.stringify(item.item);
      deadLetter(message, value, 'InvalidEventError', item.reason, item.index, envelope);
    }
    for (const event of events) {
      // Ids are the writer's choice: a repeat is the same id from the same source, so one writer
      // cannot make the window drop another source's events by reusing their ids.
      const dedupKey = event.source === envelope.source ? scope + event.id : scopedEventId(event);
      if (options.dedup.has(dedupKey)) {
        out.counts.duplicates += 1;
        continue;
      }
      // The normalizers build the event from validated input; this check guards the public
      // contract itself (a normalizer bug dead-letters instead of publishing a bad event).
      const problems = validateEvent(event);
      if (problems.length > 0) {
        deadLetter(
          message,
          JSON.stringify(event),
          'InvalidEventError',
          `normalized event violates the schema: ${problems.join('; ')}`,
        );
        continue;
      }
      options.dedup.add(dedupKey);
      out.dedupKeys.push(dedupKey);
      out.records.push({
        topic: options.eventsTopic,
        key: eventKey(event),
        value: encodeWireFormat(options.schemaId, event),
        // Without a trace, no copy of an empty header object per event.
        headers:
          traceHeaders === NO_TRACE ? { 'muxly.event.id': event.id } : { 'muxly.event.id': event.id, ...traceHeaders },
      });
      out.counts.events += 1;
    }
  }
}

/** The envelope with every list in its payload emptied: a replay puts the one failed item back in. */
function envelopeWithoutItems(envelope: RawEnvelope): string {
  const payload: Record<string, unknown> = { ...(envelope.payload as Record<string, unknown>) };
  for (const [key, value] of Object.entries(payload)) if (Array.isArray(value)) payload[key] = [];
  return JSON.stringify({ ...envelope, payload });
}
