import {
  context,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger.ts';

export { SpanKind };

/** The W3C Trace Context header, on Kafka records and HTTP requests alike. */
export const TRACEPARENT = 'traceparent';

export interface TracingSettings {
  /** Base URL of an OTLP/HTTP collector; unset: nothing is recorded or exported. */
  otlpEndpoint?: string | undefined;
  serviceName: string;
  sampleRatio: number;
  exportTimeoutMs: number;
}

export interface SpanOptions {
  /** The traceparent to continue (a header value); absent or invalid: the span starts a trace. */
  parent?: string | Buffer | undefined;
  kind?: SpanKind;
  attributes?: Attributes;
  /** Other traces this span works for (a batch of records from several requests). */
  links?: readonly (string | undefined)[];
}

/** A span in progress, or a stand-in when tracing is off. */
export interface TraceSpan {
  /** The traceparent to send on (Kafka header, HTTP header); undefined when there is no trace. */
  readonly traceparent: string | undefined;
  /** The trace id (32 hex digits) for log lines; undefined when there is no trace. */
  readonly traceId: string | undefined;
  setAttributes(attributes: Attributes): void;
  /** Ends the span; an error marks it failed and is recorded. Later calls do nothing. */
  end(error?: unknown): void;
  /** Runs `work` with this span active, so log lines written inside carry its trace_id. */
  run<T>(work: () => T): T;
}

export interface Tracing {
  /** Whether spans are recorded and exported (an OTLP endpoint is configured). */
  readonly enabled: boolean;
  startSpan(name: string, options?: SpanOptions): TraceSpan;
  /** Exports what is still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

// version-traceid-spanid-flags; a future version may append fields after a dash (W3C Trace Context 2).
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Parses a traceparent header value; undefined for anything the W3C specification says to ignore. */
export function parseTraceparent(value: string | Buffer | undefined | null): SpanContext | undefined {
  if (value === undefined || value === null) return undefined;
  const text = (typeof value === 'string' ? value : value.toString('latin1')).trim();
  if (text.length > 512) return undefined;
  const match = TRACEPARENT_PATTERN.exec(text);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 0x01, isRemote: true };
}

export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0x01).toString(16).padStart(2, '0')}`;
}

/** The traceparent of a Kafka record's headers (kafkajs gives header values as Buffers). */
export function traceparentOf(headers: Record<string, unknown> | undefined): string | undefined {
  const value = headers?.[TRACEPARENT];
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  if (typeof first === 'string') return first;
  return Buffer.isBuffer(first) ? first.toString('latin1') : undefined;
}

/** The active span's ids, for log lines; undefined outside a span (and always when tracing is off). */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Tracing off: no span is recorded and nothing is exported. A valid traceparent is still passed
 * on unchanged (what the W3C specification asks of a system that does not take part), so a
 * caller's trace reaches the destinations. Costs a regular expression per traced record.
 */
class PassThroughSpan implements TraceSpan {
  readonly traceparent: string | undefined;
  readonly traceId: string | undefined;
  constructor(parent: SpanContext | undefined) {
    this.traceparent = parent ? formatTraceparent(parent) : undefined;
    this.traceId = parent?.traceId;
  }
  setAttributes(): void {}
  end(): void {}
  run<T>(work: () => T): T {
    return work();
  }
}

const NO_TRACE = new PassThroughSpan(undefined);

/** Tracing switched off (no endpoint): passes a valid parent on, records nothing. */
export const noTracing: Tracing = {
  enabled: false,
  startSpan(_name, options) {
    const parent = parseTraceparent(options?.parent);
    return parent ? new PassThroughSpan(parent) : NO_TRACE;
  },
  shutdown: () => Promise.resolve(),
};

class RecordedSpan implements TraceSpan {
  readonly #span: Span;
  #ended = false;
  readonly traceparent: string;
  readonly traceId: string;
  constructor(span: Span) {
    this.#span = span;
    const spanContext = span.spanContext();
    this.traceparent = formatTraceparent(spanContext);
    this.traceId = spanContext.traceId;
  }
  setAttributes(attributes: Attributes): void {
    this.#span.setAttributes(attributes);
  }
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.#span.recordException(failure);
      this.#span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    }
    this.#span.end();
  }
  run<T>(work: () => T): T {
    return context.with(trace.setSpan(context.active(), this.#span), work);
  }
}

let contextManagerInstalled = false;
let diagnosticsInstalled = false;
let diagnosticsLogger: Logger | undefined;

/**
 * Tracing for one service. With an OTLP endpoint, spans are recorded (sampled: a trace started
 * here is kept with `sampleRatio`, one continued from a caller follows the caller's flag) and
 * exported in the background in batches, as OTLP JSON over HTTP. Without one, nothing is recorded
 * or exported and no SDK object is created.
 *
 * Each service builds its own provider instead of registering a global one, so services started
 * in one process (tests) keep their own service.name; parents are handed over explicitly (header
 * values), never through a global propagator.
 */
export function createTracing(settings: TracingSettings, service: string, logger: Logger, version?: string): Tracing {
  if (!settings.otlpEndpoint) return noTracing;

  if (!contextManagerInstalled) {
    // Lets run() make a span active across awaits, which is how log lines find their trace_id.
    contextManagerInstalled = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
  // The SDK reports export failures (collector down, refused) through its global diagnostics
  // channel; without a logger there they would vanish. The latest service's logger takes them.
  diagnosticsLogger = logger;
  if (!diagnosticsInstalled) {
    const report = (message: string) => diagnosticsLogger?.warn('tracing: span export problem', { detail: message });
    diagnosticsInstalled = diag.setLogger(
      { error: report, warn: report, info: () => undefined, debug: () => undefined, verbose: () => undefined },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }

  const endpoint = settings.otlpEndpoint.replace(/\/+$/, '');
  const exporter = new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, timeoutMillis: settings.exportTimeoutMs });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: `${settings.serviceName}-${service}`,
      ...(version ? { [ATTR_SERVICE_VERSION]: version } : {}),
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [
      // NOTE: ending a span only appends it to this buffer (synchronously); the export runs on a
      // timer, off the path of the request or record. A full buffer drops spans, never blocks.
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: 1_000,
        exportTimeoutMillis: settings.exportTimeoutMs,
        maxQueueSize: 8_192,
        maxExportBatchSize: 512,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer('muxly', version);
  logger.info('tracing: exporting spans', { endpoint: `${endpoint}/v1/traces`, sampleRatio: settings.sampleRatio });

  return {
    enabled: true,
    startSpan(name, options = {}) {
      const parent = parseTraceparent(options.parent);
      const parentContext = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
      let links: Link[] | undefined;
      for (const value of options.links ?? []) {
        const linked = parseTraceparent(value);
        if (linked) (links ??= []).push({ context: linked });
      }
      const span = tracer.startSpan(
        name,
        { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links, root: !parent },
        parentContext,
      );
      return new RecordedSpan(span);
    },
    async shutdown() {
      await provider
        .shutdown()
        .catch((error: unknown) =>
          logger.warn('tracing: final span export failed', { error: (error as Error).message }),
        );
    },
  };
}
