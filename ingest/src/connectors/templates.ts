import { Kind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BigQueryConfig, GoogleCredentials } from './bigquery/config.ts';
import { CustomHttpConfig, CustomHttpCredentials } from './custom/config.ts';
import { Ga4Config } from './ga4/config.ts';
import { HubSpotConfig, HubSpotCredentials } from './hubspot/config.ts';
import type { ConnectorPlugin, ConnectorType } from './connector.ts';
import type { CheckStep, TemplateExample } from '@muxly/schemas';
import { bigqueryExamples } from './bigquery/examples.ts';
import { customHttpExamples } from './custom/examples.ts';
import { ga4Examples } from './ga4/examples.ts';
import { hubspotExamples } from './hubspot/examples.ts';

// The connector templates the control plane lists and instantiates (docs/control-plane-api.md "Templates"). Pure:
// it imports only the config schemas; the connectors and their client libraries are imported
// when a connection check runs.

export interface ConnectionCheckOptions {
  signal: AbortSignal;
  credentials: Record<string, unknown> | null;
  /**
   * The outbound allow-list the syncs use (`outbound.allowAddresses`, with loopback in local
   * mode), so the check refuses exactly the internal addresses a sync would refuse.
   */
  allowAddresses?: readonly string[];
  /** Longest single HTTP exchange of the check. */
  httpTimeoutMs?: number;
  /** The connector's id: access tokens are cached per connector, shared with nothing else. */
  objectId?: string;
  /**
   * Stores new credentials the check obtained: a provider that rotates refresh tokens may retire
   * the stored one on first use, so the control plane must keep the new one.
   */
  saveCredentials?: (credentials: Record<string, unknown>) => Promise<void>;
}

/**
 * A step as the control plane reports it (the one connection-test step shape, CheckStep in
 * @muxly/schemas); names are the connector's (`config`, `authenticate`, `permission`, `check`, or
 * a plugin's own).
 */
export type ConnectionCheckStep = CheckStep<string>;

export interface ConnectorTemplate {
  kind: 'connector';
  type: string;
  description: string;
  /** JSON Schema of the config (unknown fields are errors). */
  configSchema: TSchema;
  /** JSON Schema of the write-only credentials. */
  credentialsSchema: TSchema;
  /** The config a new connector starts from: every default of the schema. */
  defaults: Record<string, unknown>;
  /** Top-level config fields without a default that the user must give. */
  required: string[];
  /** Ready-made configurations, each with the job that runs its syncs. */
  examples: TemplateExample[];
  /**
   * The URL the connector talks to for a config (defaults included), so the control plane's test
   * can resolve and connect to it before the check. Unset for plugins: the test looks for a URL field.
   */
  endpoint?(config: Record<string, unknown>): string | undefined;
  /** The connection test behind `POST /api/v1/connectors/{id}/test`: the connector's own check. */
  check(config: Record<string, unknown>, options: ConnectionCheckOptions): Promise<ConnectionCheckStep[]>;
}

/** A plugin that declares no credentials takes none: an empty object. */
const NO_CREDENTIALS = { type: 'object', properties: {}, additionalProperties: false } as unknown as TSchema;

function defaultsOf(schema: TSchema): Record<string, unknown> {
  if (Kind in schema) return Value.Default(schema, {}) as Record<string, unknown>;
  // A plugin's plain JSON Schema: the top-level defaults.
  const properties = ((schema as { properties?: unknown }).properties ?? {}) as Record<string, { default?: unknown }>;
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([, property]) => property.default !== undefined)
      .map(([name, property]) => [name, property.default]),
  );
}

/** Runs the connector's check (config validation first) with a guarded HTTP client of its own. */
async function runCheck(
  load: () => Promise<ConnectorPlugin>,
  config: Record<string, unknown>,
  options: ConnectionCheckOptions,
): Promise<ConnectionCheckStep[]> {
  const [{ checkConnector }, { createConnectorContext }, { createHttpClient, createLogger }, connector] =
    await Promise.all([import('./sync.ts'), import('./toolkit/context.ts'), import('@muxly/common'), load()]);
  const http = createHttpClient({ allow: options.allowAddresses ?? [], timeoutMs: options.httpTimeoutMs ?? 10_000 });
  try {
    const context = createConnectorContext({
      connectorId: `connection-test/${options.objectId ?? 'unsaved'}`,
      log: createLogger({ service: 'connection-test', silent: true }),
      http,
      signal: options.signal,
      ...(options.saveCredentials ? { saveCredentials: options.saveCredentials } : {}),
    });
    const result = await checkConnector(connector, config, options.credentials ?? {}, context);
    return result.steps.map((step) => ({
      name: step.name,
      status: step.ok ? 'ok' : 'failed',
      detail: step.message ?? (step.ok ? 'passed' : 'failed'),
      durationMs: step.durationMs ?? 0,
    }));
  } finally {
    http.close();
  }
}

/** The template of a connector: its schemas, defaults and required fields, and its check. */
export function connectorTemplate(
  connector: Pick<ConnectorPlugin, 'type' | 'description' | 'configSchema' | 'credentialsSchema'>,
  load: () => Promise<ConnectorPlugin>,
): ConnectorTemplate {
  const defaults = defaultsOf(connector.configSchema);
  return {
    kind: 'connector',
    type: connector.type,
    description: connector.description,
    configSchema: connector.configSchema,
    credentialsSchema: connector.credentialsSchema ?? NO_CREDENTIALS,
    defaults,
    required: ((connector.configSchema.required as string[] | undefined) ?? []).filter((name) => !(name in defaults)),
    examples: [],
    check: (config, options) => runCheck(load, config, options),
  };
}

/** The template of a loaded plugin (`loadPlugins`), so the control plane accepts its connectors. */
export const pluginTemplate = (plugin: ConnectorPlugin): ConnectorTemplate =>
  connectorTemplate(plugin, async () => plugin);

type Endpoint = (config: Record<string, unknown>) => string | undefined;

const builtIn = (
  type: ConnectorType,
  description: string,
  configSchema: TSchema,
  credentialsSchema: TSchema,
  endpoint: Endpoint,
  examples: TemplateExample[],
): ConnectorTemplate => ({
  ...connectorTemplate(
    { type, description, configSchema, credentialsSchema },
    async () => (await import('./registry.ts')).builtInConnectors[type],
  ),
  endpoint,
  examples,
});

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export const connectorTemplates: ConnectorTemplate[] = [
  builtIn(
    'bigquery',
    'BigQuery: a SQL query with an @cursor parameter; rows become metrics, events or records.',
    BigQueryConfig,
    GoogleCredentials,
    (config) => text(config.apiEndpoint) ?? 'https://bigquery.googleapis.com',
    bigqueryExamples,
  ),
  builtIn(
    'ga4',
    'Google Analytics 4: runReport with dimensions and metrics, incremental by date; rows become metric events.',
    Ga4Config,
    GoogleCredentials,
    (config) => text(config.apiEndpoint) ?? 'https://analyticsdata.googleapis.com',
    ga4Examples,
  ),
  builtIn(
    'hubspot',
    'HubSpot CRM objects (contacts, companies, deals, any object type), incremental on last modification.',
    HubSpotConfig,
    HubSpotCredentials,
    (config) => text(config.apiBaseUrl) ?? 'https://api.hubapi.com',
    hubspotExamples,
  ),
  // The URL is a template: its {{cursor}} and {{now}} placeholders do not change the host.
  builtIn(
    'custom',
    'Any JSON HTTP API: URL template, auth, pagination, a record selector and a cursor field.',
    CustomHttpConfig,
    CustomHttpCredentials,
    (config) => text(config.url)?.replace(/\{\{[^}]*\}\}/g, ''),
    customHttpExamples,
  ),
];
