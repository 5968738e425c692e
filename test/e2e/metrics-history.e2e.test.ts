import { startHarness, type Harness } from '../../control-plane/test/harness.ts';
import { postMetrics, startPipeline, type TestPipeline } from '../support/pipeline.ts';
import { requireLocalStack, stopAllStartedProcesses, waitFor } from '../support/services.ts';

// GET /api/v1/metrics/history against the real services: ingest, transformer and router run as
// processes, the control plane reads their /metrics every second. What was posted shows as
// accepted, normalized and delivered; a restart of ingest (its counters start again at zero) is
// counted from zero, never as a negative rate.

let pipeline: TestPipeline;
let h: Harness;

beforeAll(async () => {
  await requireLocalStack();
  pipeline = await startPipeline();
  h = await startHarness({
    controlPlane: {
      services: {
        ingestUrl: pipeline.ingestUrl,
        transformerUrl: `http://127.0.0.1:${pipeline.ports.transformer}`,
        routerUrl: `http://127.0.0.1:${pipeline.ports.router}`,
        metricsIntervalSeconds: 1,
      },
    },
  });
});

afterAll(async () => {
  await h?.close();
  await stopAllStartedProcesses();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answer is checked against the OpenAPI document by the harness
const history = async (): Promise<any> => {
  const answer = await h.api('GET', '/api/v1/metrics/history?minutes=60');
  if (answer.status !== 200) throw new Error(`history answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
};

const post = async (count: number) => {
  const metrics = Array.from({ length: count }, (_, index) => ({ name: 'history.test', value: index }));
  const response = await postMetrics(pipeline, { metrics });
  expect(response.status).toBe(202);
};

it('counts what each stage did, per destination, from the services’ own metrics', async () => {
  await waitFor('every service read once', async () => {
    const body = await history();
    return Object.values(body.services).every((scrape) => (scrape as { status: string }).status === 'ok');
  });
  await post(3);
  const body = await waitFor(
    'the three metrics delivered in the history',
    async () => {
      const current = await history();
      return current.totals.router.delivered === 3 ? current : undefined;
    },
    30_000,
  );
  expect(body.intervalSeconds).toBe(1);
  expect(body.totals.ingest).toEqual({ accepted: 3, failed: 0 });
  expect(body.totals.transformer).toEqual({ normalized: 3, deadLettered: 0 });
  expect(body.totals.destinations).toEqual([{ destinationId: 'file', delivered: 3, deadLettered: 0, failed: 0 }]);
  // Some interval saw the metrics arrive, at a rate above zero.
  expect(body.points.some((point: { ingest: { accepted: number } | null }) => (point.ingest?.accepted ?? 0) > 0)).toBe(
    true,
  );
  const last = body.points.at(-1);
  expect(last.destinations).toEqual([expect.objectContaining({ destinationId: 'file', lag: expect.any(Number) })]);

  // A request refused by ingest counts as failed.
  const refused = await fetch(`${pipeline.ingestUrl}/v1/metrics`, { method: 'POST', body: '{}' });
  expect(refused.status).toBe(401);
  await waitFor('the refused request in the history', async () => (await history()).totals.ingest.failed === 1);
});

it('counts a restarted service from zero: its totals keep growing, no rate is negative', async () => {
  await pipeline.service('ingest').stop();
  await waitFor('ingest seen as unreachable', async () => (await history()).services.ingest.status === 'failing');
  await pipeline.restart('ingest');
  await waitFor('ingest read again', async () => (await history()).services.ingest.status === 'ok');
  await post(2);
  const body = await waitFor(
    'the two metrics after the restart',
    async () => {
      const current = await history();
      return current.totals.router.delivered === 5 ? current : undefined;
    },
    30_000,
  );
  expect(body.totals.ingest.accepted).toBe(5);
  // The intervals in which ingest did not answer have no ingest figures, not zeros.
  expect(body.points.some((point: { ingest: unknown }) => point.ingest === null)).toBe(true);
  for (const point of body.points)
    for (const figures of [point.ingest, point.transformer, point.router])
      for (const value of Object.values(figures ?? {})) expect(value).toBeGreaterThanOrEqual(0);
});
