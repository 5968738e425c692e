import { isDeepStrictEqual } from 'node:util';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { ForbiddenDatabases, OutboundPolicy } from '@muxly/common';
import type { CheckStep, PeerEndpoint, TemplateExample } from '@muxly/schemas';
import { unprocessable, type FieldProblem } from '../http/problem.ts';

// ajv-formats is CommonJS: under native ESM its function arrives as the namespace's default.
const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv) => Ajv }).default;

export type TemplateKind = 'connector' | 'destination';

export interface CheckOptions {
  signal: AbortSignal;
  credentials: Record<string, unknown> | null;
  /** The operator's outbound allow-list (`outbound.allowAddresses`, with loopback in local mode). */
  allowAddresses: readonly string[];
  /** The operator's outbound settings (the allow-list and the file destination's base folder). */
  outbound: OutboundPolicy;
  /** Databases no destination may reach (the control plane's own among them). */
  forbiddenDatabases: ForbiddenDatabases;
  /** The tested object's id. */
  objectId?: string;
  /** Stores new credentials the check obtained (a refresh token the provider rotated). */
  saveCredentials?: (credentials: Record<string, unknown>) => Promise<void>;
}

/**
 * What a connector or destination type publishes about itself (router and ingest export arrays
 * of these from their `./templates` entry points). `configSchema` covers the whole effective
 * config, secrets included; `secrets` names the fields that must travel in `credentials`.
 */
export interface PluginTemplate {
  kind: TemplateKind;
  type: string;
  description: string;
  configSchema: object;
  defaults: Record<string, unknown>;
  required: string[];
  secrets?: string[];
  /** When the type keeps its secrets apart (connectors): the schema of `credentials`. */
  credentialsSchema?: object;
  /**
   * The type's own connection check. `config` has the credentials merged in when the template
   * lists `secrets`; with a `credentialsSchema` they arrive apart, in `options.credentials`.
   */
  check?: (config: Record<string, unknown>, options: CheckOptions) => Promise<CheckStep<string>[]>;
  /**
   * The peer the type talks to for a config (defaults included), for the resolve and connect
   * steps: a URL (connectors) or the host, port and field (destinations). Without it the test
   * looks for a URL-like field in the config (connector plugins).
   */
  endpoint?: (config: Record<string, unknown>) => string | PeerEndpoint | undefined;
  /** Ready-made configurations of the type (`POST /api/v1/templates/{id}/instantiate`). */
  examples?: TemplateExample[];
}

interface Compiled {
  template: PluginTemplate;
  validate: ValidateFunction;
  validateCredentials: ValidateFunction | undefined;
}

export class TemplateCatalog {
  readonly #byKey = new Map<string, Compiled>();
  readonly #examples = new Map<string, { template: PluginTemplate; example: TemplateExample }>();

  constructor(templates: readonly PluginTemplate[]) {
    // NOTE: useDefaults fills defaults into the object validated; validation runs on a copy.
    const ajv = addFormats(new Ajv({ allErrors: true, strict: false, useDefaults: true }));
    for (const template of templates) {
      const key = `${template.kind}/${template.type}`;
      if (this.#byKey.has(key)) throw new Error(`two templates for ${key}`);
      this.#byKey.set(key, {
        template,
        validate: ajv.compile(template.configSchema),
        validateCredentials: template.credentialsSchema ? ajv.compile(template.credentialsSchema) : undefined,
      });
      for (const example of template.examples ?? []) {
        if (this.#examples.has(example.id)) throw new Error(`two template examples named ${example.id}`);
        this.#examples.set(example.id, { template, example });
      }
    }
  }

  /** A ready-made configuration by its id, with the template of its type. */
  example(id: string): { template: PluginTemplate; example: TemplateExample } | undefined {
    return this.#examples.get(id);
  }

  list(kind?: TemplateKind): PluginTemplate[] {
    return [...this.#byKey.values()]
      .map((entry) => entry.template)
      .filter((template) => !kind || template.kind === kind);
  }

  get(kind: TemplateKind, type: string): PluginTemplate | undefined {
    return this.#byKey.get(`${kind}/${type}`)?.template;
  }

  /**
   * Validates a config and its credentials against the type's template and returns the config
   * to store: template defaults, then the given config. Unknown fields are errors. Two shapes:
   * - the template has a `credentialsSchema`: config and credentials are validated apart;
   * - otherwise the secret fields (`secrets`) belong to the config schema but must travel in
   *   `credentials`; config and credentials are validated together, as the services merge them.
   */
  validate(
    kind: TemplateKind,
    type: string,
    config: Record<string, unknown>,
    credentials: Record<string, unknown> | null,
  ): Record<string, unknown> {
    const entry = this.#byKey.get(`${kind}/${type}`);
    if (!entry) {
      const known = this.list(kind).map((template) => template.type);
      throw unprocessable(`unknown ${kind} type "${type}"; known types: ${known.join(', ') || '(none)'}`, [
        { pointer: '/type', detail: 'is not a known type' },
      ]);
    }
    const problems: FieldProblem[] = [];
    if (entry.validateCredentials) {
      if (!entry.validate(structuredClone({ ...entry.template.defaults, ...config }))) {
        for (const error of entry.validate.errors ?? []) problems.push(describe(error, '/config'));
      }
      if (credentials && !entry.validateCredentials(structuredClone(credentials))) {
        for (const error of entry.validateCredentials.errors ?? []) problems.push(describe(error, '/credentials'));
      }
    } else {
      const secrets = new Set(entry.template.secrets ?? []);
      for (const [key, value] of Object.entries(config)) {
        // NOTE: a secret field left at its template default (webhook headers: {}) carries no
        // secret; configs stored before secrets were stripped (below) still hold it.
        if (secrets.has(key) && !isDeepStrictEqual(value, entry.template.defaults[key])) {
          problems.push({
            pointer: `/config/${key}`,
            detail: 'is a secret: send it in credentials, which are encrypted and never returned',
          });
        }
      }
      for (const key of Object.keys(credentials ?? {})) {
        if (!secrets.has(key))
          problems.push({
            pointer: `/credentials/${key}`,
            detail: `is not a secret field of ${type} (secret fields: ${[...secrets].join(', ') || 'none'})`,
          });
      }
      const effective = structuredClone({ ...entry.template.defaults, ...config, ...(credentials ?? {}) });
      if (!entry.validate(effective)) {
        for (const error of entry.validate.errors ?? []) {
          const top = fieldOf(error).split('/')[1] ?? '';
          problems.push(describe(error, secrets.has(top) ? '/credentials' : '/config'));
        }
      }
    }
    if (problems.length > 0) throw unprocessable(`the ${kind} config is not valid for type "${type}"`, problems);
    const stored: Record<string, unknown> = { ...entry.template.defaults, ...config };
    // Secret fields live in the encrypted credentials only (their defaults apply where the services load them).
    if (!entry.validateCredentials) for (const secret of entry.template.secrets ?? []) delete stored[secret];
    return stored;
  }
}

function fieldOf(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties')
    return `${error.instancePath}/${String(error.params.additionalProperty)}`;
  if (error.keyword === 'required') return `${error.instancePath}/${String(error.params.missingProperty)}`;
  return error.instancePath;
}

function describe(error: ErrorObject, base: string): FieldProblem {
  const detail =
    error.keyword === 'additionalProperties'
      ? 'is not a known field'
      : error.keyword === 'required'
        ? 'is required'
        : (error.message ?? 'is invalid');
  return { pointer: `${base}${fieldOf(error)}`, detail };
}
