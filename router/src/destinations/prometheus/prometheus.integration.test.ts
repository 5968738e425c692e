import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidEventError } from '@muxly/common';
import type { DestinationInstance } from '../destination.ts';
import { createForTest, testItems } from '../test-context.ts';
import { prometheusDestination } from './index.ts';
import { waitFor } from '../../../../test/support/services.ts';

// Peer: a real Prometheus (Debian's `prometheus` package) scraping the exporter, and a real
// Pushgateway (`prometheus-pushgateway`), each started here with a temporary config and storage.

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

const poll = <T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitFor(what, attempt, timeoutMs, 250);

function start(binary: string, args: string[]): ChildProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.on('error', (error) => {
    throw new Error(
      `cannot start ${binary} (${error.message}): install it with apt-get install -y prometheus prometheus-pushgateway`,
    );
  });
  return child;
}

const directory = mkdtempSync(join(tmpdir(), 'muxly-prometheus-'));
const children: ChildProcess[] = [];
let destination: DestinationInstance | undefined;

afterAll(async () => {
  await destination?.close();
  for (const child of children) child.kill('SIGTERM');
  rmSync(directory, { recursive: true, force: true });
});

test('a real Prometheus scrapes counters, gauges and histograms with declared labels, and the cardinality limit holds', async () => {
  const [exporterPort, prometheusPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
  children.push(start('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${gatewayPort}`]));
  destination = await createForTest(prometheusDestination, {
    host: '127.0.0.1',
    port: exporterPort,
    maxSeriesPerMetric: 2,
    pushgateway: { url: `http://127.0.0.1:${gatewayPort}`, job: 'muxly_test', intervalSeconds: 1 },
    metrics: [
      {
        name: 'muxly_test_signups_total',
        type: 'counter',
        help: 'Signups.',
        when: { path: '$.name', op: 'eq', value: 'signup' },
        labels: { env: '$.dimensions.env' },
      },
      { name: 'muxly_test_latency_ms', type: 'gauge', value: '$.value', labels: { country: '$.dimensions.country' } },
      { name: 'muxly_test_latency_histogram_ms', type: 'histogram', value: '$.value', buckets: [1, 10, 100] },
      { name: 'muxly_test_by_index', type: 'counter', labels: { index: '$.attributes.index' } },
    ],
  });
  await destination.healthcheck();

  const items = testItems(6); // env alternates prod/dev; values 0.5…5.5; attributes.index 0…5
  const missingValue = testItems(1, { firstOffset: 6 })[0]!;
  delete (missingValue.event as Record<string, unknown>).value;
  const result = await destination.send([...items, missingValue]);
  expect(result?.failures?.map((failure) => failure.index)).toEqual([6]);
  expect(result?.failures?.[0]?.error).toBeInstanceOf(InvalidEventError);

  writeFileSync(
    join(directory, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: muxly\n    static_configs:\n      - targets: ['127.0.0.1:${exporterPort}']\n`,
  );
  children.push(
    start('prometheus', [
      `--config.file=${join(directory, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(directory, 'data')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
    ]),
  );

  type Sample = { metric: Record<string, string>; value: [number, string] };
  const query = async (expression: string): Promise<Sample[] | undefined> => {
    const response = await fetch(
      `http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(expression)}`,
    );
    const body = (await response.json()) as { status: string; data: { result: Sample[] } };
    return body.status === 'success' && body.data.result.length > 0 ? body.data.result : undefined;
  };
  const values = (samples: Sample[], label: string) =>
    Object.fromEntries(samples.map((sample) => [sample.metric[label], Number(sample.value[1])]));

  const signups = await poll('the scraped counter', () => query('muxly_test_signups_total'));
  expect(values(signups, 'env')).toEqual({ prod: 3, dev: 3 }); // the dead-lettered event recorded nothing
  expect(signups[0]!.metric.job).toBe('muxly');
  expect(values(await poll('the gauge', () => query('muxly_test_latency_ms')), 'country')).toEqual({ FR: 5.5 });
  expect(
    Number((await poll('the histogram', () => query('muxly_test_latency_histogram_ms_bucket{le="10"}')))[0]!.value[1]),
  ).toBe(6);
  // maxSeriesPerMetric 2: indexes 0 and 1 get their series, the rest fold into __overflow__.
  expect(values(await poll('the limited counter', () => query('muxly_test_by_index')), 'index')).toEqual({
    '0': 1,
    '1': 1,
    __overflow__: 4,
  });
  expect(
    values(await poll('the overflow counter', () => query('muxly_exporter_series_overflow_total')), 'metric'),
  ).toEqual({ muxly_test_by_index: 4 });

  const pushed = await poll('the Pushgateway to hold the pushed metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${gatewayPort}/metrics`)).text();
    return text.includes('muxly_test_signups_total{') ? text : undefined;
  });
  expect(pushed).toMatch(/muxly_test_signups_total\{[^}]*env="prod"[^}]*job="muxly_test"[^}]*\} 3/);
}, 60_000);

test('invalid metric declarations are refused at create', async () => {
  const port = await freePort();
  await expect(createForTest(prometheusDestination, { port, metrics: [{ name: 'm', type: 'gauge' }] })).rejects.toThrow(
    'config.metrics[0].value: a gauge needs',
  );
  await expect(
    createForTest(prometheusDestination, {
      port,
      metrics: [{ name: 'm', type: 'counter', when: { path: '$.a', op: 'eqq', value: 1 } }],
    }),
  ).rejects.toThrow('config.metrics[0].when');
  await expect(
    createForTest(prometheusDestination, { port, metrics: [{ name: 'bad-name', type: 'counter' }] }),
  ).rejects.toThrow('Invalid prometheus destination configuration');
});
