import { randomUUID } from 'node:crypto';
import { RAW_FORMATS, type MetricInput, type RawEnvelope } from '@muxly/schemas';

export interface EncodedMetrics {
  /** Each metric as received, serialized once (what the per-metric size limit measures). */
  received: string[];
  /** The id of each metric: the client's, or one generated here. */
  ids: string[];
  /** The raw record: the envelope of RAW_FORMATS.apiMetrics with every metric's id and timestamp set. */
  record: string;
}

/**
 * Serializes the metrics of one request ONCE and builds the raw record from those texts, instead
 * of serializing each metric for its size check and the whole envelope again for Kafka.
 *
 * The record is byte for byte what `JSON.stringify` of the envelope gives after setting the
 * missing `id` and `timestamp` on each metric (added properties come last, so appending them to a
 * metric's text is the same), and the metric objects are left as they were parsed.
 */
export function encodeMetrics(
  metrics: MetricInput[],
  source: RawEnvelope['source'],
  receivedAt: string,
  newId: () => string = randomUUID,
): EncodedMetrics {
  const received: string[] = new Array(metrics.length);
  const ids: string[] = new Array(metrics.length);
  const completed: string[] = new Array(metrics.length);
  // A string that JSON.stringify writes without escapes (an ISO time, a UUID) can be quoted directly.
  const timestampMember = `,"timestamp":${JSON.stringify(receivedAt)}}`;
  for (let index = 0; index < metrics.length; index++) {
    const metric = metrics[index]!;
    const text = JSON.stringify(metric);
    received[index] = text;
    let id = metric.id;
    let members = '';
    if (id === undefined) {
      id = newId();
      members = `,"id":${JSON.stringify(id)}`;
    }
    ids[index] = id;
    if (metric.timestamp === undefined) members += timestampMember;
    else if (members !== '') members += '}';
    // A metric always has members (name and value are required), so its text ends in "}".
    completed[index] = members === '' ? text : text.slice(0, -1) + members;
  }
  const head: Omit<RawEnvelope, 'payload'> = {
    envelopeVersion: 1,
    format: RAW_FORMATS.apiMetrics,
    source,
    receivedAt,
  };
  const record = `${JSON.stringify(head).slice(0, -1)},"payload":{"metrics":[${completed.join(',')}]}}`;
  return { received, ids, record };
}
