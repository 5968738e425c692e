import { spawnSync } from 'node:child_process';
import { createTestDatabase, type TestDatabase } from '../../control-plane/test/database.ts';
import { postMetrics, startPipeline, type TestPipeline } from '../support/pipeline.ts';
import { requireLocalStack, stopAllStartedProcesses, waitFor } from '../support/services.ts';

// Every service's /metrics passes `promtool check metrics` (Prometheus's own linter: metric and
// label names, HELP and TYPE lines, counter suffixes), after a metric went through the pipeline so
// the labelled series exist too. promtool is Debian's `prometheus` package.

let pipeline: TestPipeline;
let database: TestDatabase;

function promtool(exposition: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (result.error) {
    throw new Error(`promtool cannot run (${result.error.message}); install it: apt-get install -y prometheus`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

async function metricsOf(url: string): Promise<string> {
  const response = await fetch(url);
  expect([url, response.status]).toEqual([url, 200]);
  return response.text();
}

beforeAll(async () => {
  await requireLocalStack();
  database = await createTestDatabase();
  pipeline = await startPipeline({ controlPlane: { databaseUrl: database.url } });
  const response = await postMetrics(pipeline, { name: 'promtool.check', value: 1, dimensions: { plan: 'pro' } });
  expect(response.status).toBe(202);
  const { ids } = (await response.json()) as { ids: string[] };
  await waitFor('the metric in the file destination', async () => pipeline.deliveredIds().get(ids[0]!) === 1, 60_000);
}, 180_000);

afterAll(async () => {
  await stopAllStartedProcesses();
  await database?.drop();
}, 60_000);

test.each(['ingest', 'transformer', 'router', 'control-plane'] as const)(
  "%s's /metrics passes promtool check metrics",
  async (service) => {
    const port = pipeline.ports[service];
    const exposition = await metricsOf(`http://127.0.0.1:${port}/metrics`);
    // Its own series are there, not only Node's defaults.
    expect(exposition).toMatch(/^# TYPE muxly_/m);
    expect(promtool(exposition)).toEqual({ status: 0, output: '' });
  },
);

test('promtool reports an exposition that breaks its rules', () => {
  const bad = '# TYPE muxly_sent counter\nmuxly_sent{Destination="file"} 3\n';
  const result = promtool(bad);
  expect(result.status).not.toBe(0);
  expect(result.output).toMatch(/_total|help/i);
});
