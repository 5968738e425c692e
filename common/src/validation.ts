import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import type { TSchema } from '@sinclair/typebox';

// The one place that builds JSON Schema validators (ajv 8 with formats), so every package
// validates the same way. NOTE: import ajv only through here: the root node_modules holds an
// older ajv 6 for other libraries, and a package without its own dependency would get that one.
const addFormats = (ajvFormats as unknown as { default: <T extends Ajv | Ajv2020>(ajv: T, options?: object) => T })
  .default;

export function createAjv(options: { useDefaults?: boolean; coerceTypes?: boolean } = {}): Ajv {
  return addFormats(new Ajv({ allErrors: true, strict: false, ...options }));
}

/**
 * For schemas taken from an OpenAPI 3.1 document (JSON Schema 2020-12), with the options and
 * formats the OpenAPI request validator middleware (express-openapi-validator) uses for request
 * bodies: no type coercion, every error reported, numbers must be finite, unknown keywords and
 * formats ignored, and ajv-formats' "fast" formats (e.g. date-time checked by pattern, so a
 * month 13 passes). A route validated with it answers exactly as the middleware would.
 */
export function createOpenApiAjv(): Ajv2020 {
  return addFormats(
    new Ajv2020({
      allErrors: true,
      strict: false,
      strictNumbers: true,
      strictTuples: true,
      allowUnionTypes: false,
      validateSchema: false,
      coerceTypes: false,
      useDefaults: true,
      removeAdditional: false,
    }),
    { mode: 'fast' },
  );
}

const ajv = createAjv();
const ajvWithDefaults = createAjv({ useDefaults: true });

/** "config.path is required", "config.format must be equal to one of the allowed values", … */
export function describeValidationError(error: ErrorObject, base = ''): string {
  const at = (pointer: string) => `${base}${pointer.replaceAll('/', '.')}` || '(root)';
  if (error.keyword === 'additionalProperties')
    return `${at(`${error.instancePath}/${String(error.params.additionalProperty)}`)} is not a known field`;
  if (error.keyword === 'required')
    return `${at(`${error.instancePath}/${String(error.params.missingProperty)}`)} is required`;
  if (error.keyword === 'enum')
    return `${at(error.instancePath)} must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at(error.instancePath)} ${error.message ?? 'is invalid'}`;
}

/** Compiles a schema once; the returned function lists problems as "<pointer> <message>". */
export function compileValidator(schema: TSchema): (value: unknown) => string[] {
  const validate = ajv.compile(schema);
  return (value) =>
    validate(value)
      ? []
      : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
}

/**
 * Compiles a schema whose `default`s fill the value in place (config objects). Returns the
 * problems, each naming its field under `base` (e.g. "config.path is required").
 */
export function compileConfigValidator(schema: TSchema, base = ''): (value: unknown) => string[] {
  const validate: ValidateFunction = ajvWithDefaults.compile(schema);
  return (value) =>
    validate(value) ? [] : [...new Set((validate.errors ?? []).map((error) => describeValidationError(error, base)))];
}
