import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger, loadSettings, topicNames, type MuxlySettings } from '@muxly/common';
import { startIngest, type IngestService } from '@muxly/ingest';
import { startRouter, type RouterService } from '@muxly/router';
import { startTransformer, type TransformerService } from '@muxly/transformer';
import { waitFor } from '../../test/support/services.ts';
import { loadTemplates } from '../src/templates/sources.ts';
import { idsInFile } from './events.ts';
import { expectProblem, startHarness, type Harness } from './harness.ts';

// The live tap follows a metric posted to ingest through the running pipeline (ingest,
// transformer, router, in this process): its raw record, its unified event and the file
// destination's outcome with the rule that routed it. The tap's consumer group is gone once the
// client disconnects.

const logger = createLogger({ service: 'tap-test', level: 'error', silent: true });
const API_KEY = `mxk_tap_test_${randomBytes(8).toString('hex')}`;

interface Frame {
  stage: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read frames freely
  data: any;
  receivedAt: number;
}

/** An open tap: the frames received so far, parsed from the server-sent event stream. */
interface OpenTap {
  frames: Frame[];
  close(): void;
}

async function openTap(baseUrl: string, query: string): Promise<OpenTap> {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/api/v1/tap?${query}`, { signal: abort.signal });
  if (response.status !== 200) throw new Error(`tap answered ${response.status}: ${await response.text()}`);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const frames: Frame[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const stage = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (stage && data) frames.push({ stage, data: JSON.parse(data), receivedAt: Date.now() });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { frames, close: () => abort.abort() };
}

describe('the live tap', () => {
  let h: Harness;
  let router: RouterService;
  let transformer: TransformerService;
  let ingest: IngestService;
  let directory: string;
  let admin: ReturnType<Kafka['admin']>;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'muxly-tap-'));
    const groupIdPrefix = `test-tap-${randomBytes(4).toString('hex')}.`;
    h = await startHarness({
      templates: await loadTemplates(logger),
      settings: { router: { groupIdPrefix }, outbound: { fileBaseDirectory: directory } },
      controlPlane: { tap: { maxConcurrent: 2, maxEventsPerSecond: 1_000 } },
    });
    const overrides = (extra: Record<string, unknown>): MuxlySettings =>
      loadSettings({
        env: {},
        overrides: { log: { level: 'error' }, topics: { prefix: h.settings.topics.prefix, partitions: 1 }, ...extra },
      });
    router = await startRouter(
      overrides({
        router: { groupIdPrefix, health: { host: '127.0.0.1', port: 0 } },
        outbound: { fileBaseDirectory: directory },
      }),
      logger,
    );
    transformer = await startTransformer(
      overrides({
        transformer: {
          groupId: `${h.settings.topics.prefix}transformer`,
          instanceId: `tap-test-${randomBytes(4).toString('hex')}`,
          health: { host: '127.0.0.1', port: 0 },
        },
      }),
      logger,
    );
    ingest = await startIngest(
      overrides({
        ingest: {
          http: { host: '127.0.0.1', port: 0 },
          jobs: { enabled: false },
          apiKeys: [{ id: 'tap-test', hash: `sha256:${createHash('sha256').update(API_KEY).digest('hex')}` }],
        },
      }),
      logger,
    );
    admin = new Kafka({ brokers: h.settings.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
    await ingest?.stop();
    await transformer?.stop();
    await router?.stop();
    await h?.close();
    await rm(directory, { recursive: true, force: true });
  });

  const post = async (metric: Record<string, unknown>): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${ingest.port}/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(metric),
    });
    const body = (await response.json()) as { ids: string[] };
    expect(response.status).toBe(202);
    return body.ids[0]!;
  };
  const tapGroups = async () =>
    (await admin.listGroups()).groups
      .map((group) => group.groupId)
      .filter((id) => id.startsWith(`${topicNames(h.settings.topics.prefix).events}.tap.`));

  it('shows the raw record, the event, the rule and the delivery of a posted metric', async () => {
    const file = join(directory, 'all.jsonl');
    expect(
      (
        await h.api('POST', '/api/v1/destinations', {
          id: 'file',
          name: 'file',
          type: 'file',
          config: { path: 'all.jsonl' },
        })
      ).status,
    ).toBe(201);
    expect(
      (await h.api('POST', '/api/v1/routing-rules', { id: 'everything', name: 'everything', destinationIds: ['file'] }))
        .status,
    ).toBe(201);
    // The pipeline runs end to end once a probe reaches the file.
    const probes: string[] = [];
    await waitFor('a probe through ingest, transformer and router to the file', async () => {
      probes.push(await post({ name: 'tap_probe', value: 1 }));
      const delivered = await idsInFile(file);
      return probes.some((id) => delivered.includes(id));
    });

    const tap = await openTap(h.baseUrl, 'name=tap_metric&dimension=plan=pro');
    try {
      await waitFor('the tap to be ready', async () => tap.frames.some((frame) => frame.stage === 'ready'));
      expect(tap.frames[0]!.data.filter).toEqual({ name: 'tap_metric', dimensions: { plan: 'pro' } });
      expect(await tapGroups()).toHaveLength(1);

      // Not followed: another plan, another name (written first, so seeing the followed one's event
      // proves the tap read past them: one partition).
      const free = await post({ name: 'tap_metric', value: 1, dimensions: { plan: 'free' } });
      const other = await post({ name: 'other_metric', value: 1, dimensions: { plan: 'pro' } });
      const postedAt = Date.now();
      const followed = await post({ name: 'tap_metric', value: 42, unit: 'ms', dimensions: { plan: 'pro' } });

      const delivery = await waitFor('the delivered outcome in the tap', async () =>
        tap.frames.find((frame) => frame.stage === 'delivery' && frame.data.eventId === followed),
      );
      expect(delivery.data).toMatchObject({
        destinationId: 'file',
        eventId: followed,
        outcome: 'delivered',
        ruleId: 'everything',
        attempts: 1,
      });
      const raw = tap.frames.find(
        (frame) => frame.stage === 'raw' && frame.data.items.some((item: { id: string }) => item.id === followed),
      );
      expect(raw?.data).toMatchObject({
        format: 'api.metrics.v1',
        source: { type: 'api', id: 'tap-test' },
        matchingItems: 1,
        items: [{ id: followed, name: 'tap_metric', value: 42, unit: 'ms', dimensions: { plan: 'pro' } }],
      });
      const event = tap.frames.find((frame) => frame.stage === 'event' && frame.data.event.id === followed);
      expect(event?.data.event).toMatchObject({
        id: followed,
        kind: 'metric',
        name: 'tap_metric',
        value: 42,
        unit: 'ms',
        dimensions: { plan: 'pro' },
        source: { type: 'api' },
      });
      const stages = tap.frames.filter((frame) => JSON.stringify(frame.data).includes(followed)).map((f) => f.stage);
      expect(stages.indexOf('raw')).toBeLessThan(stages.indexOf('event'));
      expect(stages.indexOf('event')).toBeLessThan(stages.indexOf('delivery'));
      // The figure users expect ("within a second"), reported, not asserted: timings vary
      // on a shared machine.
      // eslint-disable-next-line no-console -- the figure is read from the test output
      console.log(`tap: posted → delivered outcome shown in ${delivery.receivedAt - postedAt} ms`);

      const everything = JSON.stringify(tap.frames);
      expect(everything).not.toContain(free);
      expect(everything).not.toContain(other);
      expect(tap.frames.some((frame) => frame.stage === 'dropped' || frame.stage === 'error')).toBe(false);
    } finally {
      // The client leaves: the tap's consumer stops and its group is deleted.
      tap.close();
    }
    await waitFor('the tap group to be deleted', async () => (await tapGroups()).length === 0);
  });

  it('npx muxly tap prints each stage as it arrives, and stops on Ctrl-C', async () => {
    const cli = spawn(
      process.execPath,
      [fileURLToPath(new URL('../src/cli/muxly.ts', import.meta.url)), 'tap', '--name', 'cli_metric'],
      {
        env: { ...process.env, MUXLY_URL: h.baseUrl, MUXLY_TOKEN: 'not-checked-here' },
      },
    );
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    cli.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the CLI to follow', async () => stderr.includes('following name=cli_metric'));
      const id = await post({ name: 'cli_metric', value: 7, dimensions: { region: 'eu' } });
      await waitFor('the delivered line', async () =>
        new RegExp(`delivered +${id} → file by rule everything`).test(stdout),
      );
      const lines = stdout.split('\n').filter((line) => line.includes(id));
      expect(lines[0]).toMatch(
        new RegExp(`raw +api/tap-test api\\.metrics\\.v1: cli_metric=7 \\{region=eu\\} id=${id}`),
      );
      expect(lines[1]).toMatch(new RegExp(`event +${id} cli_metric=7 \\{region=eu\\}`));
    } finally {
      cli.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    await waitFor('the tap group to be deleted', async () => (await tapGroups()).length === 0);
  });

  it('refuses a tap without a filter, and more taps than the limit, with a problem', async () => {
    expectProblem(await h.api('GET', '/api/v1/tap'), 400);
    expectProblem(await h.api('GET', '/api/v1/tap?dimension=plan'), 400);
    const taps = [await openTap(h.baseUrl, 'name=a'), await openTap(h.baseUrl, 'name=b')];
    try {
      const refused = await fetch(`${h.baseUrl}/api/v1/tap?name=c`);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await refused.json()) as { detail: string }).detail).toMatch(/2 taps are open/);
    } finally {
      for (const tap of taps) tap.close();
    }
    // Once one closed, a new tap is accepted.
    await waitFor('a tap to be accepted again', async () => {
      const answer = await fetch(`${h.baseUrl}/api/v1/tap?name=c`, { signal: AbortSignal.timeout(30_000) });
      await answer.body?.cancel();
      return answer.status === 200;
    });
    await waitFor('the tap groups to be deleted', async () => (await tapGroups()).length === 0);
  });
});
