import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@muxly/common';
import { MetricsHistory, RingBuffer } from './metrics-history.ts';
import { counterIncrease, increaseBetween, readRouter, type Reading } from './metrics-rates.ts';
import { parsePrometheusText } from './prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('reads names, escaped labels and values, and skips comments and unreadable lines', () => {
    const samples = parsePrometheusText(
      [
        '# HELP muxly_router_delivered_total Events delivered.',
        '# TYPE muxly_router_delivered_total counter',
        'muxly_router_delivered_total{destination="a\\"b\\\\c",service="router"} 42',
        'muxly_ingest_metrics_accepted_total 7 1700000000000',
        'muxly_router_send_seconds_bucket{destination="x",le="+Inf"} 3',
        'gauge_nan NaN',
        'broken{destination="x" 1',
        '',
      ].join('\n'),
    );
    expect(samples).toEqual([
      { name: 'muxly_router_delivered_total', labels: { destination: 'a"b\\c', service: 'router' }, value: 42 },
      { name: 'muxly_ingest_metrics_accepted_total', labels: {}, value: 7 },
      { name: 'muxly_router_send_seconds_bucket', labels: { destination: 'x', le: '+Inf' }, value: 3 },
      { name: 'gauge_nan', labels: {}, value: NaN },
    ]);
  });
});

describe('counterIncrease', () => {
  it.each([
    ['grew', 10, 15, false, 5],
    ['did not move', 10, 10, false, 0],
    ['went down (the process restarted)', 10, 3, false, 3],
    ['restarted and climbed past the old value', 10, 12, true, 12],
    ['is a new series', undefined, 4, false, 4],
  ])('a counter that %s', (_, previous, current, restarted, expected) => {
    expect(counterIncrease(previous, current, restarted)).toBe(expected);
  });
});

describe('increaseBetween', () => {
  const reading = (at: number, startedAt: number, accepted: number, delivered: number): Reading => ({
    at,
    ingest: { startedAt, accepted, rejected: 1 },
    transformer: { startedAt, normalized: accepted, deadLettered: 0 },
    router: { startedAt, destinations: { file: { delivered, deadLettered: 0, failed: 2, lag: 4 } } },
  });

  it('counts what happened between two readings, per stage and per destination, with the lag at the end', () => {
    const interval = increaseBetween(reading(0, 100, 10, 8), reading(15_000, 100, 40, 20));
    expect(interval).toEqual({
      at: 15_000,
      seconds: 15,
      ingest: { accepted: 30, failed: 0 },
      transformer: { normalized: 30, deadLettered: 0 },
      router: { delivered: 12, deadLettered: 0, failed: 0 },
      destinations: [{ destinationId: 'file', delivered: 12, deadLettered: 0, failed: 0, lag: 4 }],
    });
  });

  it('counts a restarted service from zero, even when its counters are already past the old values', () => {
    const interval = increaseBetween(reading(0, 100, 10, 8), reading(15_000, 200, 25, 9));
    expect(interval.ingest).toEqual({ accepted: 25, failed: 1 });
    expect(interval.router).toEqual({ delivered: 9, deadLettered: 0, failed: 2 });
  });

  it('has no figure for a stage whose service did not answer at either end', () => {
    const { ingest, ...rest } = reading(15_000, 100, 40, 20);
    const interval = increaseBetween(reading(0, 100, 10, 8), rest);
    expect(interval.ingest).toBeNull();
    expect(interval.transformer).toEqual({ normalized: 30, deadLettered: 0 });
    expect(ingest).toBeDefined();
  });

  it("sums a destination's lag over its partitions", () => {
    const router = readRouter(
      parsePrometheusText(
        [
          'muxly_router_consumer_lag{destination="file",partition="0"} 2',
          'muxly_router_consumer_lag{destination="file",partition="1"} 5',
          'muxly_router_delivered_total{destination="file"} 9',
        ].join('\n'),
      ),
    );
    expect(router.destinations).toEqual({ file: { delivered: 9, deadLettered: 0, failed: 0, lag: 7 } });
  });
});

describe('RingBuffer', () => {
  it('keeps the newest entries up to its capacity, oldest first', () => {
    const buffer = new RingBuffer<number>(3);
    for (const value of [1, 2, 3, 4, 5]) buffer.push(value);
    expect(buffer.toArray()).toEqual([3, 4, 5]);
    expect(buffer.size).toBe(3);
  });
});

describe('MetricsHistory', () => {
  let server: Server;
  let exposition = '';
  beforeAll(async () => {
    server = createServer((request, response) => {
      response.writeHead(request.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain' });
      response.end(exposition);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('turns successive reads of /metrics into rates and window totals, across a restart', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const history = new MetricsHistory({
      services: { ingest: url, transformer: url, router: 'http://127.0.0.1:1' },
      intervalSeconds: 10,
      logger: createLogger({ service: 'test', level: 'error', silent: true }),
    });
    let now = Date.now() - 30_000;
    const clock = () => now;
    const expose = (startedAt: number, accepted: number) => {
      exposition = `process_start_time_seconds ${startedAt}\nmuxly_ingest_metrics_accepted_total ${accepted}\nmuxly_transformer_events_total ${accepted}\n`;
    };
    expose(1, 100);
    await history.sample(clock);
    now += 10_000;
    expose(1, 150);
    await history.sample(clock);
    now += 10_000;
    expose(2, 30); // ingest and transformer restarted
    await history.sample(clock);

    const answer = history.history(60);
    expect(answer.points.map((point) => point.ingest)).toEqual([
      { accepted: 5, failed: 0 },
      { accepted: 3, failed: 0 },
    ]);
    expect(answer.points.every((point) => point.router === null)).toBe(true);
    expect(answer.totals.ingest).toEqual({ accepted: 80, failed: 0 });
    expect(answer.totals.transformer).toEqual({ normalized: 80, deadLettered: 0 });
    expect(answer.services.ingest.status).toBe('ok');
    expect(answer.services.router).toMatchObject({ status: 'failing', error: expect.stringContaining('127.0.0.1:1') });
  });
});
