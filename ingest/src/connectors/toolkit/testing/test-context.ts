import { createHttpClient, createLogger } from '@muxly/common';
import type { ConnectorContext, ConnectorPage } from '../../connector.ts';
import { runSync, type RunSyncOptions, type SyncSink } from '../../sync.ts';

/**
 * A connector context for tests: the guarded HTTP client allowing loopback (where the fakes
 * listen), a pinned clock, and a sleep that records the requested waits but waits only briefly,
 * so retry tests check the delays (Retry-After honored) without spending them.
 */
export function testContext(
  options: { now?: string; allowLoopback?: boolean } = {},
): ConnectorContext & { sleeps: number[] } {
  const sleeps: number[] = [];
  const controller = new AbortController();
  return {
    connectorId: 'test-connector',
    log: createLogger({ service: 'ingest-test', silent: true }),
    signal: controller.signal,
    http: createHttpClient({ allow: options.allowLoopback === false ? [] : ['127.0.0.0/8'], timeoutMs: 5_000 }),
    now: () => new Date(options.now ?? '2026-03-10T12:00:00Z'),
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5)));
    },
    sleeps,
  };
}

/** A sink that keeps pages in memory and can be told to fail on the Nth publish. */
export function memorySink(options: { failOnPublish?: number } = {}): SyncSink & { pages: ConnectorPage[] } {
  const pages: ConnectorPage[] = [];
  let calls = 0;
  return {
    pages,
    async publish(page) {
      calls += 1;
      if (options.failOnPublish === calls) throw new Error('kafka unavailable (injected)');
      pages.push(page);
    },
  };
}

export const allRecords = (pages: ConnectorPage[]) => pages.flatMap((page) => page.records);

/** A check result as `name:verdict` strings, the shape the connection-test assertions compare. */
export const verdicts = (result: { steps: { name: string; ok: boolean }[] }): string[] =>
  result.steps.map((step) => `${step.name}:${step.ok ? 'ok' : 'failed'}`);

export interface TestSyncOptions {
  cursor?: Record<string, unknown> | null;
  /** The credentials to use instead of the test's good ones. */
  creds?: unknown;
  sink?: ReturnType<typeof memorySink>;
  /** Fields over the test's base config. */
  overrides?: Record<string, unknown>;
  /** The context's clock. */
  now?: string;
}

/**
 * One sync of `connector` as a connector's tests run it against its fake: the config from the
 * test's builder (with `overrides`), its good credentials unless told otherwise, a memory sink and
 * a test context; answers the result with the sink and the context to inspect.
 */
export function syncRunner(
  connector: RunSyncOptions['connector'],
  config: (overrides?: Record<string, unknown>) => unknown,
  credentials: unknown,
) {
  return (options: TestSyncOptions = {}) => {
    const sink = options.sink ?? memorySink();
    const context = testContext(options.now ? { now: options.now } : {});
    return runSync({
      connector,
      config: config(options.overrides),
      credentials: options.creds ?? credentials,
      cursor: options.cursor ?? null,
      sink,
      context,
    }).then((result) => ({ result, sink, context }));
  };
}
