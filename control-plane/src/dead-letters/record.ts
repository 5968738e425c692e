import type { KafkaMessage } from 'kafkajs';
import { decodeWireFormat } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { newId } from '../resources/common.ts';

// What a DLQ record says about itself, read from its headers (the contract of `muxly.dlq`), in
// the shape the index stores.

export interface IndexedDeadLetter {
  id: string;
  dlqPartition: number;
  dlqOffset: string;
  stage: string;
  destinationId: string | null;
  errorClass: string;
  errorMessage: string;
  attempts: number;
  firstFailedAt: Date | null;
  writtenAt: Date;
  originalTopic: string | null;
  originalPartition: number | null;
  originalOffset: string | null;
  originalIndex: number | null;
  eventId: string | null;
  recordKey: Buffer | null;
  body: Buffer;
  headers: Record<string, string>;
}

const text = (value: Buffer | string | (Buffer | string)[] | undefined): string | undefined => {
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : one.toString();
};
const integer = (value: string | undefined): number | null => {
  const parsed = value === undefined ? NaN : Number(value);
  return Number.isInteger(parsed) ? parsed : null;
};
const date = (value: string | undefined): Date | null => {
  const parsed = value ? new Date(value) : null;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : null;
};

/** The event id inside a dead letter's body, when it has one (a router letter is an encoded event). */
function eventIdOf(stage: string, body: Buffer): string | null {
  try {
    const value = stage === 'router' ? decodeWireFormat(body).value : JSON.parse(body.toString('utf8'));
    const id = (value as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

/**
 * Reads one DLQ record. NOTE: a record without the stage header is still indexed (stage
 * "unknown"): a dead letter nobody can see is a silent loss.
 */
export function readDeadLetter(message: KafkaMessage, partition: number): IndexedDeadLetter {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const decoded = text(value);
    if (decoded !== undefined) headers[name] = decoded;
  }
  const stage = headers[DLQ_HEADERS.stage] ?? 'unknown';
  const body = message.value ?? Buffer.alloc(0);
  return {
    id: newId('dlq'),
    dlqPartition: partition,
    dlqOffset: message.offset,
    stage,
    destinationId: headers[DLQ_HEADERS.destinationId] ?? null,
    errorClass: headers[DLQ_HEADERS.errorClass] ?? 'Error',
    errorMessage: headers[DLQ_HEADERS.errorMessage] ?? '',
    attempts: integer(headers[DLQ_HEADERS.attempts]) ?? 1,
    firstFailedAt: date(headers[DLQ_HEADERS.firstFailedAt]),
    writtenAt: new Date(Number(message.timestamp)),
    originalTopic: headers[DLQ_HEADERS.originalTopic] ?? null,
    originalPartition: integer(headers[DLQ_HEADERS.originalPartition]),
    originalOffset: headers[DLQ_HEADERS.originalOffset] ?? null,
    originalIndex: integer(headers[DLQ_HEADERS.originalIndex]),
    eventId: eventIdOf(stage, body),
    recordKey: message.key ?? null,
    body,
    headers,
  };
}
