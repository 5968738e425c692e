import type { RequestHandler } from 'express';
import { createOpenApiAjv } from '@muxly/common';

// NOTE: ajv's types through common's instance: a bare `ajv` import here would be the root's ajv 6.
type SchemaError = NonNullable<ReturnType<ReturnType<typeof createOpenApiAjv>['compile']>['errors']>[number];

/**
 * What the problem handler (problems.ts) renders: the shape of express-openapi-validator's
 * errors, so the hot route and the middleware's routes answer through one mapping.
 */
export class RequestValidationError extends Error {
  readonly status: number;
  readonly path: string;
  readonly errors: { path: string; message: string; errorCode?: string }[];

  constructor(status: number, path: string, message: string, errors?: RequestValidationError['errors']) {
    super(message);
    this.status = status;
    this.path = path;
    this.errors = errors ?? [{ path, message }];
  }
}

interface OpenApiParameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: Record<string, unknown>;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
}

/**
 * The validator of one operation, compiled once at start from the OpenAPI document, answering
 * what express-openapi-validator answers for it, in the same order: an unsupported media type
 * (415), then an unknown query parameter (400), then the header parameters and the body against
 * their schemas, every error at once (400, which the problem handler turns into 422 for the body).
 *
 * Why not the middleware: per request it matches the route, copies and coerces the parameters
 * and runs two validators over a wrapper object; on the hot route that was a quarter of ingest's
 * CPU. Here the request is checked by one compiled function over the same wrapper shape, so the
 * errors carry the same paths (`/body/metrics/1/name`, `/headers/traceparent`) and messages.
 *
 * Only what the operation uses is supported (header parameters of type string, JSON bodies with
 * exact media types): anything else in the document stops the service at start, rather than
 * being validated differently from the middleware.
 */
export function compileOperationValidator(
  openApi: Record<string, unknown>,
  path: string,
  method: string,
): (request: {
  headers: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  path: string;
}) => void {
  const paths = openApi.paths as Record<string, Record<string, OpenApiOperation>> | undefined;
  const operation = paths?.[path]?.[method];
  if (!operation) throw new Error(`The OpenAPI document has no ${method.toUpperCase()} ${path}`);
  const where = `${method.toUpperCase()} ${path}`;

  const headerProperties: Record<string, unknown> = {};
  const requiredHeaders: string[] = [];
  for (const parameter of operation.parameters ?? []) {
    // Query, path and cookie parameters need the middleware's coercion rules: not built here.
    if (parameter.in !== 'header' || parameter.schema?.type !== 'string') {
      throw new Error(
        `${where}: only header parameters of type string are supported (${parameter.in} ${parameter.name})`,
      );
    }
    // Node lower-cases header names.
    headerProperties[parameter.name.toLowerCase()] = parameter.schema;
    if (parameter.required) requiredHeaders.push(parameter.name.toLowerCase());
  }

  const content = operation.requestBody?.content ?? {};
  const mediaTypes = Object.keys(content).map((type) => type.toLowerCase());
  if (mediaTypes.length === 0 || mediaTypes.some((type) => type.includes('*') || type.includes(';'))) {
    throw new Error(`${where}: the request body must list exact media types (${mediaTypes.join(', ')})`);
  }
  if (operation.requestBody?.required !== true) throw new Error(`${where}: only a required request body is supported`);
  // The body schema for every declared media type is the same for the routes validated here.
  const bodySchemas = Object.values(content).map((entry) => entry.schema ?? {});
  const bodySchema = bodySchemas[0]!;
  if (bodySchemas.some((schema) => schema !== bodySchema)) {
    throw new Error(`${where}: every media type of the request body must share one schema`);
  }

  // The document's components ride along so that the body's `$ref: '#/components/…'` resolve.
  const validate = createOpenApiAjv().compile({
    type: 'object',
    properties: {
      headers: { type: 'object', properties: headerProperties, required: requiredHeaders },
      body: bodySchema,
    },
    required: ['body'],
    components: openApi.components,
  });

  return (request) => {
    const mediaType = mediaTypeOf(request.headers['content-type']);
    if (!mediaType || !mediaTypes.includes(mediaType)) {
      const message = mediaType
        ? `unsupported media type ${normalizedContentType(request.headers['content-type'])}`
        : 'media type not specified';
      throw new RequestValidationError(415, path, message);
    }
    // The operation declares no query parameters, so any is unknown (the middleware names the first).
    for (const name in request.query) {
      const message = `Unknown query parameter '${name}'`;
      throw new RequestValidationError(400, `/query/${name}`, message);
    }
    if (validate({ headers: request.headers, body: request.body })) return;
    const errors = (validate.errors ?? []).map(describe);
    // ajv's own summary line ("request/headers/traceparent must NOT have …, …"): the detail of a 400.
    const summary = errors.map((error) => `request${error.instancePath} ${error.message}`).join(', ');
    throw new RequestValidationError(
      400,
      request.path,
      summary,
      errors.map(({ path, message, errorCode }) => ({ path, message, errorCode })),
    );
  };
}

/** Express middleware running a compiled operation validator. */
export function validateRequest(validator: ReturnType<typeof compileOperationValidator>): RequestHandler {
  return (request, _response, next) => {
    validator(request as unknown as Parameters<typeof validator>[0]);
    next();
  };
}

/** `Application/JSON; charset=UTF-8` → `application/json` (what the middleware compares). */
function mediaTypeOf(header: unknown): string | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  return header.split(';')[0]!.toLowerCase().trim();
}

/** The media type with its parameters sorted and the charset lower-cased, as the middleware names it. */
function normalizedContentType(header: unknown): string {
  const value = String(header);
  const parameters: Record<string, string> = {};
  for (const [, key, raw] of value.matchAll(/;\s*([^=]+)=([^;]+)/g)) {
    const name = key!.toLowerCase();
    parameters[name] = name === 'charset' ? raw!.toLowerCase() : raw!;
  }
  let normalized = mediaTypeOf(value) ?? '';
  for (const name of Object.keys(parameters).sort())
    if (name !== 'boundary') normalized += `; ${name}=${parameters[name]}`;
  return normalized;
}

/** One ajv error as the middleware reports it: a missing or extra property is named in the path. */
function describe(error: SchemaError): { path: string; instancePath: string; message: string; errorCode: string } {
  const params = error.params as {
    missingProperty?: string;
    additionalProperty?: string;
    unevaluatedProperty?: string;
    allowedValues?: unknown[];
  };
  const named = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty;
  let message = error.message ?? '';
  if (error.keyword === 'enum' && params.allowedValues) message = `${message}: ${params.allowedValues.join(', ')}`;
  return {
    path: named !== undefined ? `${error.instancePath}/${named}` : error.instancePath,
    instancePath: error.instancePath,
    message,
    errorCode: `${error.keyword}.openapi.validation`,
  };
}
