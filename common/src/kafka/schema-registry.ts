import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { errorMessage } from '../errors.ts';
import { createAjv } from '../validation.ts';

export interface RegistrySettings {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

export function createSchemaRegistry(settings: RegistrySettings): SchemaRegistry {
  return new SchemaRegistry(
    {
      host: settings.url,
      ...(settings.username ? { auth: { username: settings.username, password: settings.password ?? '' } } : {}),
    },
    // The client compiles JSON schemas with its own ajv, which knows no formats (date-time).
    { [SchemaType.JSON]: { ajvInstance: createAjv() as never } },
  );
}

/**
 * Registers a JSON Schema under `<topic>-value` (TopicNameStrategy) and returns its id. The
 * registry refuses a version its compatibility rule forbids; that error surfaces here at start.
 *
 * NOTE: instances that start together register the same schema for a new subject at the same
 * moment; each finds the subject new, registers the schema (idempotent: the same id) and then sets
 * the subject's compatibility, which the registry refuses to all but one of them ("A rule named
 * 'COMPATIBILITY' already exists"). The schema is registered by then, so its id is looked up. (The
 * client cannot simply register again: it compiled the schema's $id into its validator already.)
 */
export async function registerJsonSchema(registry: SchemaRegistry, topic: string, schema: object): Promise<number> {
  const subject = `${topic}-value`;
  const confluentSchema = { type: SchemaType.JSON, schema: JSON.stringify(schema) } as const;
  try {
    const { id } = await registry.register(confluentSchema, { subject });
    return id;
  } catch (error) {
    if (!/already exists/i.test(errorMessage(error))) throw error;
    return registry.getRegistryIdBySchema(subject, confluentSchema);
  }
}

/** Readiness: the registry answers its subjects listing. */
export function registryReadiness(settings: RegistrySettings): () => Promise<void> {
  return async () => {
    const headers: Record<string, string> = {};
    if (settings.username) {
      headers.authorization = `Basic ${Buffer.from(`${settings.username}:${settings.password ?? ''}`).toString('base64')}`;
    }
    const response = await fetch(`${settings.url.replace(/\/$/, '')}/subjects`, {
      headers,
      signal: AbortSignal.timeout(3_000),
    });
    if (!response.ok) throw new Error(`schema registry answered ${response.status}`);
  };
}
