import type { TSchema } from '@sinclair/typebox';
import type { HttpClient, Logger } from '@muxly/common';
import type { ConnectorRecord } from '@muxly/schemas';

// The one contract every connector implements, built-in or plugin (docs/development.md "Adding a
// connector", after Airbyte's spec/check/read/state): a config schema, a connection check, and
// a read that yields pages of records each with the cursor to resume after it.

/** The built-in connector types; plugins add their own names at start-up. */
export type ConnectorType = 'bigquery' | 'ga4' | 'hubspot' | 'custom';

/**
 * Where a sync resumes. JSON only: the control plane stores it between syncs. `null` means
 * "never synced": read from the configured start.
 */
export type ConnectorCursor = { [key: string]: unknown } | null;

/** Everything a connector may use from the host; connectors import no logger or HTTP stack. */
export interface ConnectorContext {
  connectorId: string;
  log: Logger;
  /** Aborted when the sync is cancelled, times out, or the service stops. */
  signal: AbortSignal;
  /** The guarded outbound HTTP client (address guard, timeout, size cap). */
  http: HttpClient;
  /** The clock; tests pin it. */
  now(): Date;
  /** Waits between retries; tests may shorten it. Rejects when `signal` aborts. */
  sleep(ms: number): Promise<void>;
  /**
   * Stores new credentials for this connector (a provider rotated its refresh token). Ingest hands
   * them to the control plane, which owns credentials; resolves once they are on their way.
   * Absent where nothing can store them.
   */
  saveCredentials?(credentials: Record<string, unknown>): Promise<void>;
}

/**
 * One step of a connection check. Built-in connectors name their steps `authenticate`,
 * `permission` and `check` (toolkit/check.ts); a plugin may name its own, which the control plane
 * shows as part of `check`. A step not reported was not reached (an earlier one failed).
 */
export interface CheckStep {
  name: string;
  ok: boolean;
  message?: string;
  durationMs?: number;
}

export interface CheckResult {
  ok: boolean;
  steps: CheckStep[];
}

/** One page of a read: records already mapped to the unified event's fields. */
export interface ConnectorPage {
  /** The stream the records belong to (table, object type, report, endpoint). */
  stream: string;
  records: ConnectorRecord[];
  /** The cursor to store once this page is safely published. */
  cursor: ConnectorCursor;
}

// NOTE: `any` defaults let one registry hold plugins of different config types (function
// parameters are contravariant); runSync/checkConnector validate config against configSchema first.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ConnectorPlugin<Config = any, Credentials = any> {
  /** Also the unified event's `source.type` for what this connector produces. */
  type: string;
  description: string;
  /** TypeBox / JSON Schema of `config`; unknown fields are errors; defaults apply on load. */
  configSchema: TSchema;
  /** Schema of the secrets (stored encrypted, never returned by the API). */
  credentialsSchema?: TSchema;
  /** The connection test behind `POST /connectors/{id}/test`: never throws, reports steps. */
  check(config: Config, credentials: Credentials, context: ConnectorContext): Promise<CheckResult>;
  /**
   * Reads from `cursor` (minus the configured lookback) to now. NOTE: each yielded page's cursor
   * must be safe to resume from once that page and all before it are published; a connector
   * never yields a cursor past records it has not yet yielded.
   */
  read(
    config: Config,
    credentials: Credentials,
    cursor: ConnectorCursor,
    context: ConnectorContext,
  ): AsyncIterable<ConnectorPage>;
}
