import type { RequestHandler } from 'express';
import { HttpProblem, RetryableError, SpanKind, type FieldError, type TraceSpan, type Tracing } from '@muxly/common';
import type { MetricInput } from '@muxly/schemas';
import type { IngestMetrics } from './ingest.metrics.ts';
import { encodeMetrics } from './metrics.envelope.ts';
import { BacklogFullError, type RawWriter } from './raw.writer.ts';

export interface MetricsHandlerOptions {
  writer: RawWriter;
  metrics: IngestMetrics;
  limits: { maxMetricBytes: number; maxBatchSize: number };
  tracing: Tracing;
  now?: () => Date;
}

/** Set by the JSON parser's verify hook: the decompressed body size. */
export const BODY_BYTES = Symbol('muxly.bodyBytes');

/**
 * POST /v1/metrics. The body was already parsed (size-limited while streaming) and validated
 * against the OpenAPI document (metrics.validator.ts). The whole request becomes ONE raw record: the per-record cost
 * dominates Kafka throughput, and one record per request keeps a batch all-or-nothing.
 */
export function metricsHandler(options: MetricsHandlerOptions): RequestHandler {
  const now = options.now ?? (() => new Date());
  return async (request, response) => {
    const body = request.body as MetricInput | { metrics: MetricInput[] };
    const isBatch = 'metrics' in body;
    const metrics = isBatch ? body.metrics : [body];

    if (metrics.length > options.limits.maxBatchSize) {
      throw new HttpProblem(
        413,
        `A batch holds at most ${options.limits.maxBatchSize} metrics; this one has ${metrics.length}.`,
        {
          type: 'https://muxly.dev/problems/batch-too-large',
        },
      );
    }
    const receivedAt = now().toISOString();
    const { received, ids, record } = encodeMetrics(
      metrics,
      { type: 'api', id: String(response.locals.apiKeyId) },
      receivedAt,
    );
    // A metric cannot be larger than the whole body: measure each one only when the body could
    // hold an oversized one.
    const bodyBytes =
      (request as unknown as Record<symbol, number | undefined>)[BODY_BYTES] ?? Number.POSITIVE_INFINITY;
    if (bodyBytes > options.limits.maxMetricBytes) {
      const oversized: FieldError[] = [];
      received.forEach((text, index) => {
        const size = Buffer.byteLength(text);
        if (size > options.limits.maxMetricBytes) {
          oversized.push({
            pointer: isBatch ? `/metrics/${index}` : '',
            detail: `is ${size} bytes; the limit is ${options.limits.maxMetricBytes}`,
          });
        }
      });
      if (oversized.length > 0) {
        throw new HttpProblem(413, 'A metric is larger than the per-metric limit.', {
          type: 'https://muxly.dev/problems/metric-too-large',
          errors: oversized,
        });
      }
    }

    const stopTimer = options.metrics.ackSeconds.startTimer();
    // The record's traceparent is this span's: the transformer's span continues from it.
    const publish = options.tracing.startSpan(`send ${options.writer.topic}`, {
      parent: (response.locals.trace as TraceSpan | undefined)?.traceparent,
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': options.writer.topic,
        'muxly.metrics.count': metrics.length,
      },
    });
    try {
      await options.writer.write(record, publish.traceparent);
      publish.end();
    } catch (error) {
      publish.end(error);
      if (error instanceof BacklogFullError) {
        throw new HttpProblem(
          503,
          'Too many requests are waiting for Kafka; nothing was accepted. Retry later.',
          { type: 'https://muxly.dev/problems/kafka-backlog' },
          { 'retry-after': '1' },
        );
      }
      if (error instanceof RetryableError) {
        throw new HttpProblem(
          503,
          'Kafka is unavailable; nothing was accepted. Retry later.',
          { type: 'https://muxly.dev/problems/kafka-unavailable' },
          { 'retry-after': '5' },
        );
      }
      throw error;
    } finally {
      stopTimer();
    }
    options.metrics.accepted.inc(ids.length);
    response.status(202).json({ accepted: ids.length, ids });
  };
}
