import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BigQueryConfig, GoogleCredentials } from './bigquery/config.ts';
import { CustomHttpConfig, CustomHttpCredentials } from './custom-http/config.ts';
import { Ga4Config } from './ga4/config.ts';
import { HubSpotConfig, HubSpotCredentials } from './hubspot/config.ts';
import type { ConnectorType } from './connector.ts';

// The connector templates the control plane lists and instantiates (DESIGN.md section 5). Pure:
// it imports only the config schemas, not the connectors and their client libraries.

export interface ConnectorTemplate {
  kind: 'connector';
  type: ConnectorType;
  description: string;
  /** JSON Schema of the config (unknown fields are errors). */
  configSchema: TSchema;
  /** JSON Schema of the write-only credentials. */
  credentialsSchema: TSchema;
  /** The config a new connector starts from: every default of the schema. */
  defaults: Record<string, unknown>;
  /** Top-level config fields without a default that the user must give. */
  required: string[];
}

const template = (type: ConnectorType, description: string, configSchema: TSchema, credentialsSchema: TSchema): ConnectorTemplate => {
  const defaults = Value.Default(configSchema, {}) as Record<string, unknown>;
  return {
    kind: 'connector',
    type,
    description,
    configSchema,
    credentialsSchema,
    defaults,
    required: (configSchema.required as string[] | undefined ?? []).filter((name) => !(name in defaults)),
  };
};

export const connectorTemplates: ConnectorTemplate[] = [
  template('bigquery', 'BigQuery: a SQL query with an @cursor parameter; rows become metrics, events or records.', BigQueryConfig, GoogleCredentials),
  template('ga4', 'Google Analytics 4: runReport with dimensions and metrics, incremental by date; rows become metric events.', Ga4Config, GoogleCredentials),
  template('hubspot', 'HubSpot CRM objects (contacts, companies, deals, any object type), incremental on last modification.', HubSpotConfig, HubSpotCredentials),
  template('custom', 'Any JSON HTTP API: URL template, auth, pagination, a record selector and a cursor field.', CustomHttpConfig, CustomHttpCredentials),
];
