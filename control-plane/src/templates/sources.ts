import { errorMessage, type Logger } from '@muxly/common';
import type { PluginTemplate, TemplateKind } from './catalog.ts';

// Where templates come from: the router's destinations and ingest's connectors publish them
// from pure entry points (`@muxly/router/templates`, `@muxly/ingest/templates`: arrays of
// { kind, type, description, configSchema, defaults, required, secrets?, credentialsSchema?,
// check?, endpoint?, examples? }, which each destination and connector folder describes).
// This module turns what they export into catalog entries, filling what a package left out.

// A net under every template, not a table per type: a destination declares its secrets in its
// own folder, and these names are never stored in clear text, whatever a template says (a
// plugin's, or a new destination that forgot one).
const SECRET_NAMES = new Set([
  'password',
  'secret',
  'token',
  'accessToken',
  'apiKey',
  'connectionString',
  'privateKey',
  'clientSecret',
  'botToken',
  'signingSecret',
  'webhookSecret',
  'secretAccessKey',
]);

type Raw = Record<string, unknown>;

/** Whether a sub-schema holds a secret-named field anywhere inside (e.g. email's smtp.password). */
function holdsSecret(schema: unknown, depth = 0): boolean {
  if (depth > 5 || typeof schema !== 'object' || schema === null) return false;
  const node = schema as {
    properties?: Record<string, unknown>;
    anyOf?: unknown[];
    oneOf?: unknown[];
    allOf?: unknown[];
    items?: unknown;
  };
  if (
    node.properties &&
    Object.entries(node.properties).some(([name, child]) => SECRET_NAMES.has(name) || holdsSecret(child, depth + 1))
  )
    return true;
  return [
    ...(node.anyOf ?? []),
    ...(node.oneOf ?? []),
    ...(node.allOf ?? []),
    ...(node.items ? [node.items] : []),
  ].some((child) => holdsSecret(child, depth + 1));
}

interface SchemaLike {
  properties?: Record<string, { default?: unknown; writeOnly?: boolean }>;
  required?: string[];
}

export function normalizeTemplate(raw: Raw, fallbackKind: TemplateKind): PluginTemplate {
  const schema = (raw.configSchema ?? {}) as SchemaLike;
  const properties = schema.properties ?? {};
  const defaults =
    (raw.defaults as Record<string, unknown> | undefined) ??
    Object.fromEntries(
      Object.entries(properties)
        .filter(([, p]) => p.default !== undefined)
        .map(([name, p]) => [name, p.default]),
    );
  const declaredSecrets = raw.secrets as string[] | undefined;
  const writeOnly = Object.entries(properties)
    .filter(([, p]) => p.writeOnly === true)
    .map(([name]) => name);
  // NOTE: a secret nested in an object field makes the whole field a credential: secrets are
  // split from the config at the top level only, and a password must never be stored in clear.
  const named = Object.entries(properties)
    .filter(([name, child]) => SECRET_NAMES.has(name) || holdsSecret(child))
    .map(([name]) => name);
  const template: PluginTemplate = {
    kind: (raw.kind as TemplateKind | undefined) ?? fallbackKind,
    type: String(raw.type),
    description: String(raw.description ?? ''),
    configSchema: schema,
    defaults,
    required: (raw.required as string[] | undefined) ?? schema.required ?? [],
    secrets: [...new Set([...(declaredSecrets ?? []), ...writeOnly, ...named])],
  };
  if (raw.credentialsSchema) template.credentialsSchema = raw.credentialsSchema as object;
  if (typeof raw.check === 'function') template.check = raw.check as PluginTemplate['check'];
  if (typeof raw.endpoint === 'function') template.endpoint = raw.endpoint as PluginTemplate['endpoint'];
  if (Array.isArray(raw.examples)) template.examples = raw.examples as PluginTemplate['examples'];
  return template;
}

function isMissingModule(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

async function importTemplates(specifier: string, kind: TemplateKind, logger: Logger): Promise<PluginTemplate[]> {
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (!isMissingModule(error)) throw error;
    logger.warn(`${specifier} is not available: no ${kind} templates (the API accepts no ${kind} until it is)`, {
      error: errorMessage(error),
    });
    return [];
  }
  const list = (module.templates ?? module.default ?? Object.values(module).find(Array.isArray)) as Raw[] | undefined;
  if (!Array.isArray(list)) throw new Error(`${specifier} exports no array of templates`);
  return list.map((raw) => normalizeTemplate(raw, kind));
}

export interface TemplateSources {
  /**
   * Connector plugin locations (`ingest.jobs.plugins`, the same list ingest loads), so the API
   * accepts connectors of the plugins' types and tests them with the plugins' own checks.
   */
  connectorPlugins?: readonly string[];
  /** Where relative plugin locations start (the working directory, as for ingest). */
  baseDirectory?: string;
}

/**
 * The templates of the configured connector plugins. A plugin that fails to load is logged by the
 * loader and left out: the control plane starts without it, as ingest does.
 */
async function pluginTemplates(sources: TemplateSources, logger: Logger): Promise<PluginTemplate[]> {
  if (!sources.connectorPlugins || sources.connectorPlugins.length === 0) return [];
  const [{ loadPlugins }, { pluginTemplate }] = await Promise.all([
    import('@muxly/ingest/connectors'),
    import('@muxly/ingest/templates'),
  ]);
  const { plugins } = await loadPlugins(sources.connectorPlugins, {
    baseDirectory: sources.baseDirectory ?? process.cwd(),
    log: logger,
  });
  return plugins.map((plugin) => normalizeTemplate(pluginTemplate(plugin) as unknown as Raw, 'connector'));
}

/** Every template the deployment ships: destinations from the router, connectors from ingest and its plugins. */
export async function loadTemplates(logger: Logger, sources: TemplateSources = {}): Promise<PluginTemplate[]> {
  return [
    ...(await importTemplates('@muxly/ingest/templates', 'connector', logger)),
    ...(await pluginTemplates(sources, logger)),
    ...(await importTemplates('@muxly/router/templates', 'destination', logger)),
  ];
}
