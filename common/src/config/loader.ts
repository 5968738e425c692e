import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { ConfigurationError } from '../errors.ts';

// ajv-formats is CommonJS: under native ESM its function arrives as the namespace's default.
const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv) => Ajv }).default;

export const ENV_PREFIX = 'MUXLY_';
/** Variables with the prefix that belong to the scripts, not to the settings document. */
const RESERVED_ENV = new Set(['MUXLY_CONFIG', 'MUXLY_LOCAL_DIR', 'MUXLY_ROOT', 'MUXLY_NODE_VERSION']);
/**
 * Standard variables that other tools set for every process of a deployment, mapped onto the
 * setting they mean. Applied before the MUXLY_ variables, so a MUXLY_ variable for the same
 * setting wins; ignored by a schema without that setting.
 */
const STANDARD_ENV: Record<string, readonly string[]> = {
  OTEL_EXPORTER_OTLP_ENDPOINT: ['tracing', 'otlpEndpoint'],
};

export interface LoadOptions {
  /** Path of a YAML, JSON or TOML file; defaults to $MUXLY_CONFIG, or none. */
  file?: string | undefined;
  /** The environment to read overrides from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Extra values applied after the file and before the environment (tests, CLI flags). */
  overrides?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/**
 * Loads settings: schema defaults ← file ← overrides ← MUXLY_ environment variables, then
 * validates the result against the JSON Schema and reports every problem with its path and the
 * place it came from. Unknown keys are errors, so a typo never silently falls back to a default.
 */
export function loadConfig<S extends TSchema>(schema: S, options: LoadOptions = {}): Static<S> {
  const env = options.env ?? process.env;
  const file = options.file ?? env.MUXLY_CONFIG;
  const origins = new Map<string, string>();
  let document: Json = {};

  if (file) {
    document = readConfigFile(file);
    recordOrigins(document, '', `file ${file}`, origins);
  }
  if (options.overrides) {
    document = mergeDeep(document, options.overrides);
    recordOrigins(options.overrides, '', 'overrides', origins);
  }
  for (const [name, path] of Object.entries(STANDARD_ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '' || !schemaAt(schema, path)) continue;
    document = setPath(document, path, raw);
    origins.set('/' + path.join('/'), `environment variable ${name}`);
  }
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.has(name) || raw === undefined) continue;
    const path = envNameToPath(name);
    const value = coerceEnvValue(raw, schemaAt(schema, path));
    document = setPath(document, path, value);
    origins.set('/' + path.join('/'), `environment variable ${name}`);
  }

  const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  if (!validate(document)) {
    // An `if` failure only says which branch applied; the branch's own errors name the setting.
    const problems = (validate.errors ?? [])
      .filter((error) => error.keyword !== 'if')
      .map((error) => describeError(error, origins));
    throw new ConfigurationError('Invalid configuration', [...new Set(problems)]);
  }
  return document as Static<S>;
}

function readConfigFile(file: string): Json {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Cannot read configuration file ${path}: ${(error as Error).message}`);
  }
  try {
    const ext = extname(path).toLowerCase();
    const parsed: unknown =
      ext === '.json'
        ? JSON.parse(text)
        : ext === '.toml'
          ? parseToml(text)
          : ext === '.yaml' || ext === '.yml'
            ? parseYaml(text)
            : undefined;
    if (parsed === undefined && !['.json', '.toml', '.yaml', '.yml'].includes(ext)) {
      throw new Error(`unsupported extension "${ext}" (use .yaml, .yml, .json or .toml)`);
    }
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the top level must be an object');
    return parsed as Json;
  } catch (error) {
    throw new ConfigurationError(`Cannot parse configuration file ${path}: ${(error as Error).message}`);
  }
}

/** MUXLY_KAFKA__CLIENT_ID → ['kafka', 'clientId'] */
export function envNameToPath(name: string): string[] {
  return name
    .slice(ENV_PREFIX.length)
    .split('__')
    .map((segment) => segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function coerceEnvValue(raw: string, schema: TSchema | undefined): unknown {
  const type = schema?.type;
  if (type === 'array') {
    const trimmed = raw.trim();
    if (trimmed.startsWith('[')) return parseJsonOr(trimmed, raw);
    return trimmed === '' ? [] : trimmed.split(',').map((item) => item.trim());
  }
  if (type === 'object') return parseJsonOr(raw, raw);
  // Numbers and booleans are coerced by the validator; strings stay strings.
  return raw;
}

function parseJsonOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

function schemaAt(schema: TSchema, path: readonly string[]): TSchema | undefined {
  let current: TSchema | undefined = schema;
  for (const key of path) {
    const properties = current?.properties as Record<string, TSchema> | undefined;
    current = properties?.[key];
    if (!current) return undefined;
  }
  return current;
}

function setPath(document: Json, path: readonly string[], value: unknown): Json {
  const [head, ...rest] = path;
  if (head === undefined) return document;
  const child = document[head];
  return {
    ...document,
    [head]: rest.length === 0 ? value : setPath(isPlainObject(child) ? child : {}, rest, value),
  };
}

function mergeDeep(base: Json, extra: Json): Json {
  const result: Json = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = result[key];
    result[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return result;
}

function recordOrigins(value: unknown, pointer: string, origin: string, origins: Map<string, string>): void {
  if (pointer) origins.set(pointer, origin);
  if (isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) recordOrigins(child, `${pointer}/${key}`, origin, origins);
  }
}

function describeError(error: ErrorObject, origins: Map<string, string>): string {
  let pointer = error.instancePath;
  let message = error.message ?? 'is invalid';
  if (error.keyword === 'additionalProperties') {
    pointer = `${pointer}/${String(error.params.additionalProperty)}`;
    message = 'is not a known setting';
  } else if (error.keyword === 'required') {
    pointer = `${pointer}/${String(error.params.missingProperty)}`;
    message = 'is required';
  } else if (error.keyword === 'false schema') {
    message = 'does not go with the other settings of its section';
  } else if (error.keyword === 'enum') {
    message = `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const origin = findOrigin(pointer, origins);
  const setting = pointer.replace(/^\//, '').replaceAll('/', '.') || '(root)';
  return `${setting} ${message}${origin ? ` (from ${origin})` : ''}`;
}

function findOrigin(pointer: string, origins: Map<string, string>): string | undefined {
  for (let p = pointer; p; p = p.slice(0, p.lastIndexOf('/'))) {
    const origin = origins.get(p);
    if (origin) return origin;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
