import type { KafkaMessage } from 'kafkajs';
import { SpanKind, traceparentOf, type Tracing } from '@muxly/common';

/**
 * Records the route span of one event of the events topic (a child of the transformer's span,
 * whose traceparent the record carries) and returns the traceparent its deliveries continue from.
 * An event without one (written before tracing existed) is not traced. Synchronous: the span only
 * goes into the export buffer.
 */
export function traceRoute(
  tracing: Tracing,
  message: KafkaMessage,
  source: { topic: string; partition: number },
  routedTo: number,
): string | undefined {
  const parent = traceparentOf(message.headers);
  if (!parent) return undefined;
  const span = tracing.startSpan('route', {
    parent,
    kind: SpanKind.CONSUMER,
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': source.topic,
      'messaging.destination.partition.id': String(source.partition),
      'messaging.kafka.offset': Number(message.offset),
      'muxly.destinations.routed': routedTo,
    },
  });
  span.end();
  return span.traceparent;
}
