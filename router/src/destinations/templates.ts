import type { TSchema } from '@sinclair/typebox';
import type { ForbiddenDatabases, OutboundPolicy } from '@muxly/common';
import type { CheckStep, PeerEndpoint, TemplateExample } from '@muxly/schemas';
import type { DestinationPlugin } from './destination.ts';
import { destinationRegistry, type DestinationType } from './registry.ts';

// The destination templates the control plane lists at GET /api/v1/templates, read from each
// destination's own description (`<type>/index.ts`); defaults and required fields come from its
// schema. Importing this module loads no client library and does no I/O: a destination's
// implementation is imported when one is created (a connection test, the router).

export interface DestinationTemplate {
  kind: 'destination';
  type: DestinationType;
  description: string;
  /** JSON Schema of the destination's config; unknown fields are errors. */
  configSchema: TSchema;
  /** The config a new destination starts from: every default of the schema. */
  defaults: Record<string, unknown>;
  /** Top-level fields without a default that the user must give. */
  required: string[];
  /** Top-level config fields that travel encrypted in `credentials` and are never returned. */
  secrets: string[];
  /** Ready-made configurations, each with the routing rule that feeds it. */
  examples: TemplateExample[];
  /** The peer a config reaches, for the connection test's resolve and connect steps. */
  endpoint: (config: Record<string, unknown>) => PeerEndpoint | undefined;
  /** The control plane's connection test: creates the destination, runs its healthcheck, closes it. */
  check?: (config: Record<string, unknown>, options: DestinationCheckOptions) => Promise<CheckStep[]>;
}

export interface DestinationCheckOptions {
  signal: AbortSignal;
  /** The operator's outbound settings, as the router applies them. */
  outbound: OutboundPolicy;
  /** Databases no destination may reach (the control plane's own among them). */
  forbiddenDatabases: ForbiddenDatabases;
}

interface ObjectSchema {
  properties?: Record<string, ObjectSchema & { default?: unknown }>;
  required?: string[];
}

/**
 * Every default of a schema, inside required objects too: a new email destination starts with
 * its SMTP port, though `smtp` itself has no default.
 */
export function defaultsOf(schema: ObjectSchema): Record<string, unknown> {
  const required = new Set(schema.required ?? []);
  const defaults: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property.default !== undefined) defaults[name] = structuredClone(property.default);
    else if (required.has(name) && property.properties) {
      const nested = defaultsOf(property);
      if (Object.keys(nested).length > 0) defaults[name] = nested;
    }
  }
  return defaults;
}

/** The top-level fields the schema requires that have no default of their own. */
export const requiredOf = (schema: ObjectSchema): string[] =>
  (schema.required ?? []).filter((name) => schema.properties?.[name]?.default === undefined);

function templateOf(type: DestinationType, plugin: DestinationPlugin<never>): DestinationTemplate {
  const schema = plugin.configSchema as ObjectSchema;
  const proof = plugin.healthCheckProves;
  return {
    kind: 'destination',
    type,
    description: plugin.description,
    configSchema: plugin.configSchema,
    defaults: defaultsOf(schema),
    required: requiredOf(schema),
    secrets: [...plugin.secrets],
    examples: plugin.examples,
    endpoint: plugin.endpoint,
    ...(proof
      ? {
          check: async (config: Record<string, unknown>, options: DestinationCheckOptions) =>
            (await import('./connection-check.ts')).checkDestination(plugin, proof, config, options),
        }
      : {}),
  };
}

export const destinationTemplates: readonly DestinationTemplate[] = Object.entries(destinationRegistry).map(
  ([type, plugin]) => templateOf(type as DestinationType, plugin),
);
