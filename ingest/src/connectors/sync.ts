import { errorMessage } from '@muxly/common';
import type { CheckResult, ConnectorContext, ConnectorCursor, ConnectorPage, ConnectorPlugin } from './connector.ts';
import { parseConfig } from './toolkit/validate.ts';

// Drives one sync: read pages, publish each, and remember the cursor of the last published page.
// The scheduler wires `sink` to Kafka (`muxly.raw`, format connector.records.v1) and stores the
// cursor through the control plane; this module knows neither.

export interface SyncSink {
  /** Resolves once the page is durably written (Kafka acknowledged). */
  publish(page: ConnectorPage): Promise<void>;
}

export interface SyncProgress {
  pages: number;
  records: number;
  /** The cursor of the last published page: where a resumed sync starts. */
  cursor: ConnectorCursor;
}

export interface SyncResult extends SyncProgress {
  /** Records per stream. */
  streams: Record<string, number>;
}

/** A sync that stopped part-way: `progress` holds what was published and the cursor to resume from. */
export class SyncFailedError extends Error {
  override name = 'SyncFailedError';
  readonly progress: SyncProgress;
  constructor(cause: unknown, progress: SyncProgress) {
    super(`sync failed after ${progress.pages} pages (${progress.records} records): ${errorMessage(cause)}`, { cause });
    this.progress = progress;
  }
}

export interface RunSyncOptions {
  connector: ConnectorPlugin;
  config: unknown;
  credentials: unknown;
  /** The stored cursor (null on the first sync or after a reset). */
  cursor: ConnectorCursor;
  sink: SyncSink;
  context: ConnectorContext;
  /** Called after each published page (records so far, pages, cursor). */
  onProgress?: (progress: SyncProgress) => void | Promise<void>;
}

/**
 * Runs a sync to the end. On failure throws SyncFailedError carrying the last published cursor;
 * the cause is the connector's error (ConfigurationError: stop and report; RetryableError: the
 * scheduler may retry the job, resuming from that cursor).
 */
export async function runSync(options: RunSyncOptions): Promise<SyncResult> {
  const { connector, sink, context } = options;
  const config = parseConfig(connector.configSchema, options.config, `${connector.type} connector config`);
  const credentials = connector.credentialsSchema
    ? parseConfig(connector.credentialsSchema, options.credentials, `${connector.type} connector credentials`)
    : options.credentials;
  const progress: SyncProgress = { pages: 0, records: 0, cursor: options.cursor };
  const streams: Record<string, number> = {};
  const log = context.log.child({ connectorId: context.connectorId, connectorType: connector.type });
  log.info('sync started', { resumedFrom: options.cursor });
  try {
    for await (const page of connector.read(config, credentials, options.cursor, { ...context, log })) {
      context.signal.throwIfAborted();
      // NOTE: the cursor advances only after the sink acknowledged the page. Advancing first and
      // crashing before the write would skip that page's records on resume.
      if (page.records.length > 0) await sink.publish(page);
      progress.pages += 1;
      progress.records += page.records.length;
      progress.cursor = page.cursor;
      streams[page.stream] = (streams[page.stream] ?? 0) + page.records.length;
      await options.onProgress?.({ ...progress });
    }
  } catch (error) {
    log.warn('sync failed', { pages: progress.pages, records: progress.records, error: errorMessage(error) });
    throw new SyncFailedError(error, { ...progress });
  }
  log.info('sync finished', { pages: progress.pages, records: progress.records });
  return { ...progress, streams };
}

/**
 * The connection test (`POST /connectors/{id}/test`): validates config and credentials, then runs
 * the connector's own check. Never throws; a bad config is a failed first step.
 */
export async function checkConnector(
  connector: ConnectorPlugin,
  config: unknown,
  credentials: unknown,
  context: ConnectorContext,
): Promise<CheckResult> {
  let parsedConfig: unknown;
  let parsedCredentials: unknown = credentials;
  try {
    parsedConfig = parseConfig(connector.configSchema, config, `${connector.type} connector config`);
    if (connector.credentialsSchema)
      parsedCredentials = parseConfig(
        connector.credentialsSchema,
        credentials,
        `${connector.type} connector credentials`,
      );
  } catch (error) {
    return { ok: false, steps: [{ name: 'config', ok: false, message: errorMessage(error) }] };
  }
  try {
    const result = await connector.check(parsedConfig, parsedCredentials, context);
    return { ok: result.ok, steps: [{ name: 'config', ok: true }, ...result.steps] };
  } catch (error) {
    // A plugin's check that throws is reported, not propagated.
    return {
      ok: false,
      steps: [
        { name: 'config', ok: true },
        { name: 'check', ok: false, message: errorMessage(error) },
      ],
    };
  }
}
