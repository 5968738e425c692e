import {
  compileValidator,
  encodeWireFormat,
  errorMessage,
  type ConsumedRecord,
  type OutgoingRecord,
} from '@muxly/common';
import { DLQ_HEADERS, eventKey, RawEnvelope, scopedEventId, UnifiedEvent } from '@muxly/schemas';
import type { DedupWindow } from './dedup.ts';
import { normalizerFor } from './normalizers/registry.ts';

const validateEnvelope = compileValidator(RawEnvelope);
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
    };
    if (index !== undefined && index >= 0) {
      headers[DLQ_HEADERS.originalIndex] = String(index);
      if (envelope) headers[DLQ_HEADERS.rawEnvelope] = envelopeWithoutItems(envelope);
    }
    out.records.push({ topic: options.dlqTopic, key: message.key, value, headers });
    out.counts.deadLetters += 1;
  };

  for (const message of messages) {
    if (!message.value) {
      deadLetter(message, Buffer.alloc(0), 'InvalidEventError', 'empty record value');
      continue;
    }
    let envelope: RawEnvelope;
    try {
      envelope = JSON.parse(message.value.toString('utf8')) as RawEnvelope;
    } catch (error) {
      deadLetter(message, message.value, 'InvalidEventError', `not JSON: ${errorMessage(error)}`);
      continue;
    }
    const envelopeProblems = validateEnvelope(envelope);
    if (envelopeProblems.length > 0) {
      deadLetter(message, message.value, 'InvalidEventError', `invalid raw envelope: ${envelopeProblems.join('; ')}`);
      continue;
    }
    const normalize = normalizerFor(envelope.format);
    if (!normalize) {
      deadLetter(message, message.value, 'InvalidEventError', `unknown raw format "${envelope.format}"`);
      continue;
    }
    const { events, rejected } = normalize(envelope);
    for (const item of rejected) {
      const value = item.index < 0 ? message.value : JSON.stringify(item.item);
      deadLetter(message, value, 'InvalidEventError', item.reason, item.index, envelope);
    }
    for (const event of events) {
      // Ids are the writer's choice: a repeat is the same id from the same source, so one writer
      // cannot make the window drop another source's events by reusing their ids.
      const dedupKey = scopedEventId(event);
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
        headers: { 'muxly.event.id': event.id },
      });
      out.counts.events += 1;
    }
  }
  return out;
}

/** The envelope with every list in its payload emptied: a replay puts the one failed item back in. */
function envelopeWithoutItems(envelope: RawEnvelope): string {
  const payload: Record<string, unknown> = { ...(envelope.payload as Record<string, unknown>) };
  for (const [key, value] of Object.entries(payload)) if (Array.isArray(value)) payload[key] = [];
  return JSON.stringify({ ...envelope, payload });
}
