import { setTimeout as delay } from 'node:timers/promises';
import type { HttpClient, Logger } from '@muxly/common';
import type { ConnectorContext } from '../connector.ts';

/**
 * A ConnectorContext with the real clock and a sleep that stops on abort. `http` is the service's
 * one guarded client (`createHttpClient({ allow: <outbound allow-list> })`), shared by all syncs
 * and closed by the service at shutdown.
 */
export function createConnectorContext(options: {
  connectorId: string;
  log: Logger;
  http: HttpClient;
  signal?: AbortSignal;
  saveCredentials?: (credentials: Record<string, unknown>) => Promise<void>;
}): ConnectorContext {
  const signal = options.signal ?? new AbortController().signal;
  return {
    connectorId: options.connectorId,
    log: options.log,
    signal,
    http: options.http,
    now: () => new Date(),
    sleep: (ms) => delay(ms, undefined, { signal }),
    ...(options.saveCredentials ? { saveCredentials: options.saveCredentials } : {}),
  };
}
