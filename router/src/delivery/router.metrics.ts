import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Per-destination delivery metrics; the only label is the destination id (bounded by config). */
export function createRouterMetrics(registry: Registry) {
  const counter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['destination'], registers: [registry] });
  return {
    delivered: counter('muxly_router_delivered_total', 'Events delivered to the destination.'),
    filtered: counter(
      'muxly_router_filtered_total',
      'Events no enabled rule routes to the destination (dropped on purpose).',
    ),
    failed: counter('muxly_router_failed_attempts_total', 'Failed delivery attempts (each retry counts).'),
    retried: counter('muxly_router_retried_total', 'Events sent again after a retryable failure.'),
    deadLettered: counter('muxly_router_dead_lettered_total', 'Events written to the DLQ.'),
    skipped: counter(
      'muxly_router_skipped_total',
      'Events given up without dead-lettering, as their route says (onFailure: continue).',
    ),
    stopped: new Gauge({
      name: 'muxly_router_stopped',
      help: '1 while the destination holds at an event it cannot deliver (route onFailure: stop), else 0.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    detached: new Gauge({
      name: 'muxly_router_detached',
      help: '1 while the destination is detached from the shared stream and catches up with its own reader, else 0.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'muxly_router_consumer_lag',
      help: "Events behind the head of the events topic, per partition, at the destination's last commit.",
      labelNames: ['destination', 'partition'],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: 'muxly_router_send_seconds',
      help: 'Duration of one send() of a batch to the destination.',
      labelNames: ['destination'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers: [registry],
    }),
  };
}
export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
