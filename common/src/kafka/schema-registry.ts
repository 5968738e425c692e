import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
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
 */
export async function registerJsonSchema(registry: SchemaRegistry, topic: string, schema: object): Promise<number> {
  const { id } = await registry.register(
    { type: SchemaType.JSON, schema: JSON.stringify(schema) },
    { subject: `${topic}-value` },
  );
  return id;
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
