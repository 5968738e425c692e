// The connectors' public surface for the rest of ingest (the scheduler's pollers) and for the
// control plane's connection test (`@muxly/ingest/connectors`).
export type {
  CheckResult,
  CheckStep,
  ConnectorContext,
  ConnectorCursor,
  ConnectorPage,
  ConnectorPlugin,
  ConnectorType,
} from './connector.ts';
export {
  builtInConnectors,
  createConnectorRegistry,
  isBuiltInConnectorType,
  type ConnectorRegistry,
} from './registry.ts';
export {
  checkConnector,
  runSync,
  SyncFailedError,
  type RunSyncOptions,
  type SyncProgress,
  type SyncResult,
  type SyncSink,
} from './sync.ts';
export { createConnectorContext } from './toolkit/context.ts';
export { loadPlugins, type LoadedPlugins, type PluginFailure } from './plugins/loader.ts';
export {
  connectorTemplate,
  connectorTemplates,
  pluginTemplate,
  type ConnectionCheckOptions,
  type ConnectionCheckStep,
  type ConnectorTemplate,
} from './templates.ts';
