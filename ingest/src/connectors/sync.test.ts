import { Type } from '@sinclair/typebox';
import { ConfigurationError, createHttpClient, createLogger } from '@muxly/common';
import type { ConnectorContext, ConnectorPage, ConnectorPlugin } from './connector.ts';
import { checkConnector, runSync, SyncFailedError, type SyncProgress } from './sync.ts';

const record = (n: number) => ({
  id: `r${n}`,
  kind: 'event' as const,
  name: 'e',
  timestamp: '2026-03-01T00:00:00.000Z',
});

/** A connector that yields `pages` pages of two records, optionally throwing before page `failAt`. */
const fakeConnector = (pages: number, failAt?: number): ConnectorPlugin<{ size: number }> => ({
  type: 'fake',
  description: 'test',
  configSchema: Type.Object({ size: Type.Integer({ default: 2 }) }, { additionalProperties: false }),
  check: async () => ({ ok: true, steps: [{ name: 'ping', ok: true }] }),
  async *read(config, _credentials, cursor) {
    const start = typeof cursor?.page === 'number' ? cursor.page : 0;
    for (let page = start + 1; page <= pages; page += 1) {
      if (page === failAt) throw new Error(`read failed at page ${page}`);
      yield {
        stream: 's',
        records: Array.from({ length: config.size }, (_, i) => record(page * 10 + i)),
        cursor: { page },
      };
    }
  },
});

const context = (signal = new AbortController().signal): ConnectorContext => ({
  connectorId: 'c1',
  log: createLogger({ service: 'test', silent: true }),
  signal,
  http: createHttpClient(),
  now: () => new Date(),
  sleep: async () => {},
});

describe('runSync', () => {
  it('publishes every page, reports progress and returns counts and the final cursor', async () => {
    const published: ConnectorPage[] = [];
    const progress: SyncProgress[] = [];
    const result = await runSync({
      connector: fakeConnector(3),
      config: {},
      credentials: undefined,
      cursor: null,
      sink: { publish: async (page) => void published.push(page) },
      context: context(),
      onProgress: (update) => void progress.push(update),
    });
    expect(result).toEqual({ pages: 3, records: 6, cursor: { page: 3 }, streams: { s: 6 } });
    expect(progress.map((update) => update.cursor)).toEqual([{ page: 1 }, { page: 2 }, { page: 3 }]);
    expect(published).toHaveLength(3);
  });

  it.each([
    ['the connector fails', fakeConnector(4, 3), undefined, { pages: 2, records: 4, cursor: { page: 2 } }],
    ['the sink fails', fakeConnector(4), 2, { pages: 1, records: 2, cursor: { page: 1 } }],
  ])(
    'when %s, keeps the cursor of the last published page, and a resume finishes',
    async (_name, connector, failingPublish, expected) => {
      let calls = 0;
      const sink = {
        publish: async () => {
          calls += 1;
          if (calls === failingPublish) throw new Error('broker down');
        },
      };
      const error = (await runSync({
        connector,
        config: {},
        credentials: undefined,
        cursor: null,
        sink,
        context: context(),
      }).catch((caught: unknown) => caught)) as SyncFailedError;
      expect(error).toBeInstanceOf(SyncFailedError);
      expect(error.progress).toEqual(expected);
      const resumed = await runSync({
        connector: fakeConnector(4),
        config: {},
        credentials: undefined,
        cursor: error.progress.cursor,
        sink: { publish: async () => {} },
        context: context(),
      });
      expect(resumed.pages).toBe(4 - expected.pages);
    },
  );

  it('does not publish empty pages but still advances the cursor', async () => {
    let published = 0;
    const result = await runSync({
      connector: fakeConnector(2),
      config: { size: 0 },
      credentials: undefined,
      cursor: null,
      sink: { publish: async () => void (published += 1) },
      context: context(),
    });
    expect(published).toBe(0);
    expect(result.cursor).toEqual({ page: 2 });
  });

  it('rejects invalid config before reading', async () => {
    await expect(
      runSync({
        connector: fakeConnector(1),
        config: { size: 'x' },
        credentials: undefined,
        cursor: null,
        sink: { publish: async () => {} },
        context: context(),
      }),
    ).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const sink = { publish: async () => controller.abort(new Error('cancelled')) };
    const error = (await runSync({
      connector: fakeConnector(3),
      config: {},
      credentials: undefined,
      cursor: null,
      sink,
      context: context(controller.signal),
    }).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.message).toMatch(/cancelled/);
    expect(error.progress.pages).toBe(1);
  });
});

describe('checkConnector', () => {
  it('reports config validation as the first step', async () => {
    await expect(checkConnector(fakeConnector(1), {}, undefined, context())).resolves.toEqual({
      ok: true,
      steps: [
        { name: 'config', ok: true },
        { name: 'ping', ok: true },
      ],
    });
    const bad = await checkConnector(fakeConnector(1), { unknown: 1 }, undefined, context());
    expect(bad.ok).toBe(false);
  });
});
