import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage, type Logger } from '@muxly/common';
import type { ConnectorPlugin } from '../connector.ts';
import { isBuiltInConnectorType } from '../registry.ts';
import { isolatePlugin } from './isolate.ts';

// Loads connector plugins at start-up from configured locations: npm package names or folders.
// NOTE: a plugin runs in the ingest process. Loading is isolated (a plugin that throws at import
// or exports a wrong shape is reported and skipped), and its check/read failures become ordinary
// sync failures (isolate.ts); it is not a security sandbox: install only plugins you trust.

export interface PluginFailure {
  location: string;
  error: string;
}

export interface LoadedPlugins {
  plugins: ConnectorPlugin[];
  failures: PluginFailure[];
}

const TYPE_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;

/** The file to import for a location: a folder's package.json entry, or a package name. */
function resolvePluginEntry(location: string, baseDirectory: string): string {
  const isPath = location.startsWith('.') || location.startsWith('/') || path.isAbsolute(location);
  if (!isPath) {
    // A package name, resolved from the base directory's node_modules like a dependency of it.
    return createRequire(path.join(baseDirectory, 'package.json')).resolve(location);
  }
  const target = path.resolve(baseDirectory, location);
  if (!existsSync(target)) throw new Error(`plugin location ${target} does not exist`);
  if (!statSync(target).isDirectory()) return target;
  const manifestPath = path.join(target, 'package.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: unknown; main?: unknown };
    const exported =
      typeof manifest.exports === 'string'
        ? manifest.exports
        : (manifest.exports as Record<string, unknown> | undefined)?.['.'];
    const entry =
      typeof exported === 'string'
        ? exported
        : typeof (exported as { import?: unknown } | undefined)?.import === 'string'
          ? (exported as { import: string }).import
          : typeof (exported as { default?: unknown } | undefined)?.default === 'string'
            ? (exported as { default: string }).default
            : typeof manifest.main === 'string'
              ? manifest.main
              : undefined;
    if (entry) return path.join(target, entry);
  }
  for (const candidate of ['index.ts', 'index.js', 'index.mjs']) {
    if (existsSync(path.join(target, candidate))) return path.join(target, candidate);
  }
  throw new Error(`plugin folder ${target} has no package.json entry and no index file`);
}

/** Checks the module's export against the connector contract; lists every problem. */
export function validatePluginShape(candidate: unknown): string[] {
  if (candidate === null || typeof candidate !== 'object')
    return ['the module must export a connector object (default export or `connector`)'];
  const plugin = candidate as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof plugin.type !== 'string' || !TYPE_PATTERN.test(plugin.type))
    problems.push('type must be a lower-case name (letters, digits, dashes)');
  else if (isBuiltInConnectorType(plugin.type)) problems.push(`type "${plugin.type}" is a built-in connector type`);
  if (typeof plugin.description !== 'string') problems.push('description must be a string');
  const schema = plugin.configSchema as Record<string, unknown> | undefined;
  if (schema === null || typeof schema !== 'object') problems.push('configSchema must be a JSON Schema object');
  else if (schema.type !== 'object' || schema.additionalProperties !== false) {
    problems.push('configSchema must describe an object with additionalProperties: false (unknown fields are errors)');
  }
  if (
    plugin.credentialsSchema !== undefined &&
    (plugin.credentialsSchema === null || typeof plugin.credentialsSchema !== 'object')
  ) {
    problems.push('credentialsSchema, when given, must be a JSON Schema object');
  }
  if (typeof plugin.check !== 'function') problems.push('check(config, credentials, context) must be a function');
  if (typeof plugin.read !== 'function') problems.push('read(config, credentials, cursor, context) must be a function');
  return problems;
}

const IMPORT_TIMEOUT_MS = 10_000;

/** Imports a plugin's entry, giving up when its import (top-level await) does not settle in time. */
async function importWithin(entry: string, timeoutMs: number): Promise<{ default?: unknown; connector?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      import(pathToFileURL(entry).href) as Promise<{ default?: unknown; connector?: unknown }>,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`its import did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Imports and validates every location; never throws. Duplicated types keep the first. */
export async function loadPlugins(
  locations: readonly string[],
  options: { baseDirectory: string; log: Logger; importTimeoutMs?: number },
): Promise<LoadedPlugins> {
  const plugins: ConnectorPlugin[] = [];
  const failures: PluginFailure[] = [];
  for (const location of locations) {
    try {
      const entry = resolvePluginEntry(location, options.baseDirectory);
      const module = await importWithin(entry, options.importTimeoutMs ?? IMPORT_TIMEOUT_MS);
      const candidate = module.default ?? module.connector;
      const problems = validatePluginShape(candidate);
      if (problems.length > 0) throw new Error(`not a connector plugin: ${problems.join('; ')}`);
      const plugin = candidate as ConnectorPlugin;
      if (plugins.some((loaded) => loaded.type === plugin.type))
        throw new Error(`connector type "${plugin.type}" is already provided by another plugin`);
      plugins.push(isolatePlugin(plugin));
      options.log.info('connector plugin loaded', { location, connectorType: plugin.type });
    } catch (error) {
      failures.push({ location, error: errorMessage(error) });
      options.log.error('connector plugin failed to load; continuing without it', {
        location,
        error: errorMessage(error),
      });
    }
  }
  return { plugins, failures };
}
