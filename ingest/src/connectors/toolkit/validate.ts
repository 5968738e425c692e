import { Kind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigurationError, compileValidator } from '@muxly/common';

const plainValidators = new WeakMap<object, (value: unknown) => string[]>();

/**
 * Applies the schema's defaults to a copy of `value` and checks it; every problem is reported
 * with its path. Unknown fields are errors because the schemas say additionalProperties: false.
 * Plugins may give a plain JSON Schema instead of TypeBox: it is checked (by ajv), without defaults.
 */
export function parseConfig<T>(schema: TSchema, value: unknown, what: string): T {
  const copy = structuredClone(value ?? {});
  if (!(Kind in schema)) {
    let validate = plainValidators.get(schema);
    if (!validate) plainValidators.set(schema, (validate = compileValidator(schema)));
    const problems = validate(copy);
    if (problems.length === 0) return copy as T;
    throw new ConfigurationError(`invalid ${what}`, problems.slice(0, 20));
  }
  const withDefaults = Value.Default(schema, copy);
  if (Value.Check(schema, withDefaults)) return withDefaults as T;
  const problems = [...Value.Errors(closestVariant(schema, withDefaults), withDefaults)].map(
    (error) => `${error.path || '/'}: ${error.message}`,
  );
  throw new ConfigurationError(`invalid ${what}`, problems.slice(0, 20));
}

/**
 * For a union of objects (credentials that come in several forms), the variant whose fields the
 * value uses most: its errors name the missing or wrong field ("/serviceAccountKey/token_uri"),
 * where the union's own error would only say that no form matched.
 */
function closestVariant(schema: TSchema, value: unknown): TSchema {
  const variants = (schema as { anyOf?: TSchema[] }).anyOf;
  if (!variants || typeof value !== 'object' || value === null) return schema;
  const keys = Object.keys(value);
  const shared = (variant: TSchema) =>
    keys.filter((key) => key in ((variant as { properties?: object }).properties ?? {})).length;
  const best = variants.reduce((winner, variant) => (shared(variant) > shared(winner) ? variant : winner));
  return shared(best) > 0 ? best : schema;
}
