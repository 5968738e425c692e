import { Value } from '@sinclair/typebox/value';
import type { Static, TSchema } from '@sinclair/typebox';
import { ConfigurationError } from '@muxly/common';

/**
 * Fills a destination config's defaults and checks it against the schema. The router validates
 * configs before create() too; doing it again here keeps each plugin safe on its own (tests, the
 * control plane's connection test) and gives `create` a fully defaulted, typed value.
 */
export function resolveConfig<S extends TSchema>(schema: S, config: unknown, type: string): Static<S> {
  const value = Value.Default(schema, structuredClone(config ?? {}));
  const problems = [...Value.Errors(schema, value)].map(
    (error) => `config${error.path.replace(/\/(\d+)/g, '[$1]').replaceAll('/', '.')}: ${error.message}`,
  );
  if (problems.length > 0)
    throw new ConfigurationError(`Invalid ${type} destination configuration`, [...new Set(problems)]);
  return value as Static<S>;
}
