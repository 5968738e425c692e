import { Counter, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  accepted: Counter;
  rejected: Counter<'reason'>;
  ackSeconds: Histogram;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    accepted: new Counter({
      name: 'muxly_ingest_metrics_accepted_total',
      help: 'Metrics acknowledged by Kafka and answered 202.',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'muxly_ingest_requests_rejected_total',
      help: 'Requests answered with an error, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    ackSeconds: new Histogram({
      name: 'muxly_ingest_kafka_ack_seconds',
      help: 'Time from handing a request to Kafka to its acks=all acknowledgement.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
