import { errorMessage, isEncryptedValue, type Logger, type SecretKeyring } from '@muxly/common';
import type {
  DestinationDefinition,
  FailurePolicy,
  PipelineDefinition,
  RouteDefinition,
  RoutingRuleDefinition,
} from '../pipeline/pipeline.ts';

// The router's view of the live configuration topic (docs/control-plane-api.md, "Live
// configuration"): the latest record per key `<kind>/<id>`, value {kind, id, version, object} or
// null (deleted). Only destinations, rules and routes concern the router; other kinds are ignored.

interface Entry {
  version: number;
  object: Record<string, unknown>;
}

export interface ConfigRecord {
  key: string;
  /** The record's value as text; null for a tombstone. */
  value: string | null;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

export class PipelineState {
  readonly #destinations = new Map<string, Entry>();
  readonly #rules = new Map<string, Entry>();
  readonly #routes = new Map<string, Entry>();
  /** Ids deleted on the topic: they also hide an object of the same id from the settings file. */
  readonly #deleted = new Set<string>();
  readonly #base: PipelineDefinition;
  readonly #keyring: SecretKeyring;
  readonly #logger: Logger;

  constructor(options: { base: PipelineDefinition; keyring: SecretKeyring; logger: Logger }) {
    this.#base = options.base;
    this.#keyring = options.keyring;
    this.#logger = options.logger;
  }

  /** Applies one record; returns true when the router's part of the configuration changed. */
  apply(record: ConfigRecord): boolean {
    const slash = record.key.indexOf('/');
    const kind = record.key.slice(0, slash);
    const id = record.key.slice(slash + 1);
    const table =
      kind === 'destination'
        ? this.#destinations
        : kind === 'rule'
          ? this.#rules
          : kind === 'route'
            ? this.#routes
            : undefined;
    if (!table || slash <= 0 || id === '') return false;
    if (record.value === null) {
      // Always a change: besides the topic's object, it may hide the settings file's one.
      this.#deleted.add(record.key);
      table.delete(id);
      return true;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(record.value);
    } catch (error) {
      this.#logger.error('config record is not JSON; ignored', { key: record.key, error: errorMessage(error) });
      return false;
    }
    if (!isObject(parsed) || !isObject(parsed.object) || typeof parsed.version !== 'number') {
      this.#logger.error('config record lacks {version, object}; ignored', { key: record.key });
      return false;
    }
    // A record older than one already applied is a late duplicate: the newer state stands.
    const current = table.get(id);
    if (current && current.version > parsed.version) return false;
    table.set(id, { version: parsed.version, object: parsed.object });
    this.#deleted.delete(record.key);
    return true;
  }

  /** The effective pipeline: the settings file's objects, overridden by id by the topic's. */
  snapshot(): PipelineDefinition {
    const destinations = new Map(
      this.#base.destinations.filter((d) => !this.#deleted.has(`destination/${d.id}`)).map((d) => [d.id, d]),
    );
    for (const [id, { object }] of this.#destinations) {
      const definition = this.#destination(id, object);
      if (definition) destinations.set(id, definition);
      else destinations.delete(id);
    }
    const rules = new Map(this.#base.rules.filter((r) => !this.#deleted.has(`rule/${r.id}`)).map((r) => [r.id, r]));
    for (const [id, { object }] of this.#rules) rules.set(id, ruleDefinition(id, object));
    const routes = new Map(
      (this.#base.routes ?? []).filter((r) => !this.#deleted.has(`route/${r.id}`)).map((r) => [r.id, r]),
    );
    for (const [id, { object }] of this.#routes) routes.set(id, routeDefinition(id, object));
    return { destinations: [...destinations.values()], rules: [...rules.values()], routes: [...routes.values()] };
  }

  #destination(id: string, object: Record<string, unknown>): DestinationDefinition | undefined {
    let credentials: Record<string, unknown> = {};
    if (isEncryptedValue(object.credentials)) {
      try {
        const plain = this.#keyring.decrypt(object.credentials, `destination/${id}`);
        if (isObject(plain)) credentials = plain;
      } catch (error) {
        // NOTE: without its credentials the destination cannot work; it is left out (its events
        // wait in Kafka, uncommitted for its group) rather than started with a partial config.
        this.#logger.error('destination credentials cannot be decrypted; destination not started', {
          destination: id,
          error: errorMessage(error),
        });
        return undefined;
      }
    }
    return {
      id,
      ...(typeof object.name === 'string' ? { name: object.name } : {}),
      type: String(object.type ?? ''),
      enabled: object.enabled !== false,
      config: { ...(isObject(object.config) ? object.config : {}), ...credentials },
    };
  }
}

function ruleDefinition(id: string, object: Record<string, unknown>): RoutingRuleDefinition {
  return {
    id,
    ...(typeof object.name === 'string' ? { name: object.name } : {}),
    priority: typeof object.priority === 'number' ? object.priority : 100,
    enabled: object.enabled !== false,
    ...(object.condition !== undefined && object.condition !== null ? { condition: object.condition } : {}),
    transformations: Array.isArray(object.transformations) ? object.transformations : [],
    destinationIds: Array.isArray(object.destinationIds) ? object.destinationIds.map(String) : [],
    stopOnMatch: object.stopOnMatch === true,
  };
}

function routeDefinition(id: string, object: Record<string, unknown>): RouteDefinition {
  const errorHandling = isObject(object.errorHandling) ? object.errorHandling : {};
  return {
    id,
    ...(typeof object.name === 'string' ? { name: object.name } : {}),
    connectorId: typeof object.connectorId === 'string' ? object.connectorId : null,
    ruleIds: Array.isArray(object.ruleIds) ? object.ruleIds.map(String) : [],
    enabled: object.enabled !== false,
    // An unknown policy is kept as it is: RoutingTable.compile refuses it with its place.
    errorHandling: {
      onFailure: (typeof errorHandling.onFailure === 'string'
        ? errorHandling.onFailure
        : 'dead-letter') as FailurePolicy,
    },
  };
}
