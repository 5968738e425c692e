import { Writable } from 'node:stream';
import { OtlpReceiver } from '../../../test/support/otlp-receiver.ts';
import { waitFor } from '../../../test/support/services.ts';
import { createLogger } from './logger.ts';
import { createTracing, formatTraceparent, noTracing, parseTraceparent, SpanKind } from './tracing.ts';

const logger = createLogger({ service: 'test', silent: true });
const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test.each([
  ['a valid header', CALLER, true],
  ['upper-case hex', CALLER.toUpperCase(), false],
  ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, false],
  ['an all-zero span id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`, false],
  ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false],
  ['version 00 with more fields', `${CALLER}-extra`, false],
  ['a later version with more fields', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', true],
  ['garbage', 'not a traceparent', false],
])('parseTraceparent: %s', (_case, header, valid) => {
  expect(parseTraceparent(header) !== undefined).toBe(valid);
});

test('a parsed traceparent formats back to the same header (version 00)', () => {
  expect(formatTraceparent(parseTraceparent(CALLER)!)).toBe(CALLER);
  expect(formatTraceparent(parseTraceparent(Buffer.from(CALLER))!)).toBe(CALLER);
});

test('without an endpoint nothing is recorded, and a valid caller traceparent is passed on unchanged', () => {
  const tracing = createTracing({ serviceName: 'muxly', sampleRatio: 1, exportTimeoutMs: 1_000 }, 'ingest', logger);
  expect(tracing).toBe(noTracing);
  expect(tracing.enabled).toBe(false);
  expect(tracing.startSpan('x', { parent: CALLER }).traceparent).toBe(CALLER);
  expect(tracing.startSpan('x', { parent: 'garbage' }).traceparent).toBeUndefined();
  expect(tracing.startSpan('x').traceparent).toBeUndefined();
});

describe('with an OTLP endpoint', () => {
  const receiver = new OtlpReceiver();
  let endpoint: string;
  beforeAll(async () => {
    endpoint = await receiver.start();
  });
  afterAll(() => receiver.stop());

  test('spans continue the caller trace and reach the collector as OTLP JSON with the service name', async () => {
    const tracing = createTracing(
      { otlpEndpoint: endpoint, serviceName: 'muxly', sampleRatio: 1, exportTimeoutMs: 5_000 },
      'ingest',
      logger,
    );
    const server = tracing.startSpan('POST /v1/metrics', { parent: CALLER, kind: SpanKind.SERVER });
    const child = tracing.startSpan('send raw', { parent: server.traceparent, kind: SpanKind.PRODUCER });
    child.end(new Error('broker away'));
    server.end();
    await tracing.shutdown();

    const caller = parseTraceparent(CALLER)!;
    expect(server.traceId).toBe(caller.traceId);
    const spans = receiver.trace(caller.traceId);
    expect(spans.map((span) => span.name).sort()).toEqual(['POST /v1/metrics', 'send raw']);
    const serverSpan = spans.find((span) => span.name === 'POST /v1/metrics')!;
    const childSpan = spans.find((span) => span.name === 'send raw')!;
    expect(serverSpan).toMatchObject({ service: 'muxly-ingest', parentSpanId: caller.spanId, kind: 2 });
    expect(childSpan).toMatchObject({ parentSpanId: serverSpan.spanId, kind: 4, statusCode: 2 });
    expect(child.traceparent).toBe(`00-${caller.traceId}-${childSpan.spanId}-01`);
  });

  test('a trace started here with sampleRatio 0 is passed on as not sampled, and none of its spans is exported', async () => {
    const tracing = createTracing(
      { otlpEndpoint: endpoint, serviceName: 'muxly', sampleRatio: 0, exportTimeoutMs: 5_000 },
      'router',
      logger,
    );
    const unsampled = tracing.startSpan('root');
    unsampled.end();
    // A marker span of a sampled caller's trace, exported after the unsampled one would have been.
    const marker = tracing.startSpan('marker', { parent: CALLER });
    marker.end();
    await tracing.shutdown();
    expect(unsampled.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    await waitFor('the marker span', async () => receiver.spans.some((span) => span.name === 'marker'));
    expect(receiver.trace(unsampled.traceId!)).toEqual([]);
  });

  test('log lines written while a span is active carry its trace_id', async () => {
    const tracing = createTracing(
      { otlpEndpoint: endpoint, serviceName: 'muxly', sampleRatio: 1, exportTimeoutMs: 5_000 },
      'ingest',
      logger,
    );
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const visible = createLogger({ service: 'test', stream });
    const span = tracing.startSpan('work', { parent: CALLER });
    try {
      await span.run(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        visible.info('inside');
      });
      visible.info('outside');
    } finally {
      span.end();
      await tracing.shutdown();
    }
    await waitFor('both log lines', async () => lines.join('').includes('"outside"'));
    const parsed = lines
      .flatMap((line) => line.split('\n'))
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.find((line) => line.message === 'inside')).toMatchObject({ trace_id: span.traceId });
    expect(parsed.find((line) => line.message === 'outside')?.trace_id).toBeUndefined();
  });

  test('an export the collector refuses is logged as a warning, and the service goes on', async () => {
    const refusing = new OtlpReceiver({ status: 400 });
    const refusingEndpoint = await refusing.start();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const tracing = createTracing(
      { otlpEndpoint: refusingEndpoint, serviceName: 'muxly', sampleRatio: 1, exportTimeoutMs: 2_000 },
      'router',
      createLogger({ service: 'test', stream }),
    );
    try {
      // Exported by the timer, not by a stop: the service keeps running after the refusal.
      tracing.startSpan('lost').end();
      await waitFor('the warning', async () => lines.some((line) => line.includes('tracing: span export problem')));
      expect(refusing.requests).toBeGreaterThan(0);
      expect(tracing.startSpan('after', { parent: CALLER }).traceparent).toMatch(
        /^00-4bf92f3577b34da6a3ce929d0e0e4736-/,
      );
    } finally {
      await tracing.shutdown();
      await refusing.stop();
    }
  });
});
