import type { ConnectorPlugin, ConnectorType } from './connector.ts';
import { bigqueryConnector } from './bigquery/connector.ts';
import { customHttpConnector } from './custom/connector.ts';
import { ga4Connector } from './ga4/connector.ts';
import { hubspotConnector } from './hubspot/connector.ts';

// The built-in connectors: a new one is a folder and one line here (docs/development.md). Plugins are
// loaded at start-up by plugins/loader.ts and added to a registry next to these, never over them.

export const builtInConnectors = {
  bigquery: bigqueryConnector,
  ga4: ga4Connector,
  hubspot: hubspotConnector,
  custom: customHttpConnector,
} satisfies Record<ConnectorType, ConnectorPlugin>;

export const isBuiltInConnectorType = (type: string): type is ConnectorType => Object.hasOwn(builtInConnectors, type);

export interface ConnectorRegistry {
  get(type: string): ConnectorPlugin | undefined;
  types(): string[];
}

/** The built-ins plus the plugins that loaded; a plugin cannot replace a built-in type. */
export function createConnectorRegistry(plugins: readonly ConnectorPlugin[] = []): ConnectorRegistry {
  const byType = new Map<string, ConnectorPlugin>(Object.entries(builtInConnectors));
  for (const plugin of plugins) {
    if (!byType.has(plugin.type)) byType.set(plugin.type, plugin);
  }
  return {
    get: (type) => byType.get(type),
    types: () => [...byType.keys()],
  };
}
