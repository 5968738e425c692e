import { createHttpClient, createLogger } from '@muxly/common';
import { runSync } from '../../src/connectors/sync.ts';
import type { ConnectorContext, ConnectorPage } from '../../src/connectors/connector.ts';
import connector from './index.ts';

const context = (now: string): ConnectorContext => ({
  connectorId: 'example',
  log: createLogger({ service: 'test', silent: true }),
  signal: new AbortController().signal,
  http: createHttpClient(),
  now: () => new Date(now),
  sleep: async () => {},
});

const collect = () => {
  const pages: ConnectorPage[] = [];
  return { pages, publish: async (page: ConnectorPage) => void pages.push(page) };
};

describe('example heartbeat plugin', () => {
  const config = { intervalSeconds: 3600, start: '2026-03-01T00:00:00Z', pageSize: 10 };

  it('first sync emits one metric per interval up to now, in pages', async () => {
    const sink = collect();
    const result = await runSync({
      connector,
      config,
      credentials: undefined,
      cursor: null,
      sink,
      context: context('2026-03-01T23:30:00Z'),
    });
    expect(result).toMatchObject({ records: 24, pages: 3, cursor: { next: Date.parse('2026-03-02T00:00:00Z') } });
    expect(sink.pages[0]!.records[0]).toMatchObject({
      kind: 'metric',
      name: 'example.heartbeat',
      value: 1,
      timestamp: '2026-03-01T00:00:00.000Z',
      dimensions: { service: 'example' },
    });
  });

  it('incremental sync continues from the cursor; ids are deterministic', async () => {
    const first = collect();
    const done = await runSync({
      connector,
      config,
      credentials: undefined,
      cursor: null,
      sink: first,
      context: context('2026-03-01T02:00:00Z'),
    });
    const second = collect();
    const again = await runSync({
      connector,
      config,
      credentials: undefined,
      cursor: done.cursor,
      sink: second,
      context: context('2026-03-01T04:00:00Z'),
    });
    expect(again.records).toBe(2);
    expect(second.pages[0]!.records[0]!.timestamp).toBe('2026-03-01T03:00:00.000Z');
    const replay = collect();
    await runSync({
      connector,
      config,
      credentials: undefined,
      cursor: null,
      sink: replay,
      context: context('2026-03-01T02:00:00Z'),
    });
    expect(replay.pages.flatMap((page) => page.records.map((record) => record.id))).toEqual(
      first.pages.flatMap((page) => page.records.map((record) => record.id)),
    );
  });

  it('rejects unknown config fields', async () => {
    await expect(
      runSync({
        connector,
        config: { surprise: true },
        credentials: undefined,
        cursor: null,
        sink: collect(),
        context: context('2026-03-01T00:00:00Z'),
      }),
    ).rejects.toThrow(/invalid example-heartbeat connector config/);
  });

  it('check reports its configuration', async () => {
    await expect(
      connector.check({ name: 'x', intervalSeconds: 60, start: '', pageSize: 1, service: 's' }),
    ).resolves.toMatchObject({ ok: true });
  });
});
