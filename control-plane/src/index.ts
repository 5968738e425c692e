export { startControlPlane, type ControlPlaneOptions, type RunningControlPlane } from './service.ts';
export { createApp, type Authorizer, type AppOptions } from './app.ts';
export { CONFIG_KINDS, configKey, type ConfigKind, type ConfigRecordValue } from './config/publisher.ts';
export type { PluginTemplate, CheckOptions, TemplateKind } from './templates/catalog.ts';
export { ApiProblem } from './http/problem.ts';
