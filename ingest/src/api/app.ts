import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import express, { type Express, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import {
  createApiDocs,
  handleHealthRequest,
  HttpProblem,
  setSecurityHeaders,
  SpanKind,
  TRACEPARENT,
  type HealthEndpoints,
  type Logger,
  type Tracing,
} from '@muxly/common';
import { presentedApiKey, type ApiKeyVerifier } from '../auth/api-keys.ts';
import { createIngestMetrics, type IngestMetrics } from './ingest.metrics.ts';
import { answerClientErrors } from './client-errors.ts';
import { BODY_BYTES, metricsHandler } from './metrics.handler.ts';
import { compileOperationValidator, validateRequest } from './metrics.validator.ts';
import { problemHandler } from './problems.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { RawWriter } from './raw.writer.ts';

const require = createRequire(import.meta.url);
const INGEST_OPENAPI_PATH = require.resolve('@muxly/schemas/openapi/ingest.yaml');

/** Parsed once at start, so a broken document stops the service instead of failing requests. */
export function loadIngestOpenApi(): Record<string, unknown> {
  return parseYaml(readFileSync(INGEST_OPENAPI_PATH, 'utf8')) as Record<string, unknown>;
}

export interface IngestAppOptions {
  writer: RawWriter;
  apiKeys: ApiKeyVerifier;
  rateLimiter: RateLimiter;
  health: HealthEndpoints;
  logger: Logger;
  /** Spans of API requests; a disabled one still passes the caller's traceparent on. */
  tracing: Tracing;
  limits: { maxRequestBytes: number; maxMetricBytes: number; maxBatchSize: number };
  clientTimeouts: { headersMs: number; requestMs: number; keepAliveMs: number };
}

/** The ingest HTTP server (not yet listening): the API below, with slow and broken clients answered too. */
export function createIngestServer(options: IngestAppOptions): Server {
  const metrics = createIngestMetrics(options.health.registry);
  const rejected = (status: number, reason: string) =>
    metrics.rejected.inc({ reason: `${status}_${reason.replaceAll('-', '_')}` });
  const { headersMs, requestMs, keepAliveMs } = options.clientTimeouts;
  const server = createServer(
    {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      keepAliveTimeout: keepAliveMs,
      // How often Node looks for connections over those deadlines (its default is every 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersMs / 4))),
    },
    createIngestApp(options, metrics, rejected),
  );
  answerClientErrors(server, rejected);
  return server;
}

/**
 * Stops accepting connections and resolves once every request in progress was answered.
 *
 * NOTE: `server.close()` alone closes only the connections idle at that instant; a keep-alive
 * connection busy with a request keeps being reused by its client (a steady writer always has
 * one), so the close would never complete. While closing, every response says `Connection: close`
 * and Node ends its connection after it; idle connections are closed as they appear.
 */
export function closeGracefully(server: Server): Promise<void> {
  // Before the API's own listener, so that even a response sent at once closes its connection.
  const onRequest = (_request: IncomingMessage, response: ServerResponse) => {
    response.shouldKeepAlive = false;
  };
  server.prependListener('request', onRequest);
  return new Promise<void>((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      server.off('request', onRequest);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function createIngestApp(
  options: IngestAppOptions,
  metrics: IngestMetrics,
  rejected: (status: number, reason: string) => void,
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_request, response, next) => {
    setSecurityHeaders(response);
    next();
  });

  // Health, readiness and metrics need no key: probes and scrapers do not hold one.
  app.use((request, response, next) => {
    handleHealthRequest(request, response, options.health).then((handled) => handled || next(), next);
  });
  // Swagger UI and the OpenAPI document, without a key (docs/ingest.md).
  const docs = createApiDocs(INGEST_OPENAPI_PATH);
  app.use((request, response, next) => {
    if (!docs.handle(request, response)) next();
  });

  // The server span of an API request: continues the caller's trace (its traceparent header) or
  // starts one. The handler hands it on (response.locals.trace) to the record it writes.
  app.use('/v1', (request, response, next) => {
    const route = request.path === '/metrics' ? '/v1/metrics' : undefined;
    const span = options.tracing.startSpan(route ? `${request.method} ${route}` : request.method, {
      parent: request.get(TRACEPARENT),
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}) },
    });
    response.locals.trace = span;
    const end = () => {
      span.setAttributes({ 'http.response.status_code': response.statusCode });
      if (response.locals.apiKeyId !== undefined)
        span.setAttributes({ 'muxly.api_key.id': String(response.locals.apiKeyId) });
      span.end(response.statusCode >= 500 ? new Error(`answered ${response.statusCode}`) : undefined);
    };
    // 'close' also covers a client that went away before the answer.
    response.once('close', end);
    span.run(next);
  });

  // Authenticate before reading a body, so an unknown caller cannot make us parse anything.
  const authenticate: RequestHandler = (request, response, next) => {
    const key = presentedApiKey(request.headers);
    const keyId = key ? options.apiKeys.verify(key) : undefined;
    if (!keyId) {
      const [type, detail] = key
        ? ['api-key-invalid', 'The API key is not valid.']
        : ['api-key-missing', 'Send an API key as "Authorization: Bearer <key>" or "X-API-Key".'];
      next(
        new HttpProblem(401, detail, { type: `https://muxly.dev/problems/${type}` }, { 'www-authenticate': 'Bearer' }),
      );
      return;
    }
    response.locals.apiKeyId = keyId;
    next();
  };
  // Rate-limited per key before the body is read: a throttled caller costs no parsing either.
  const rateLimit: RequestHandler = (_request, response, next) => {
    const waitMs = options.rateLimiter.take(String(response.locals.apiKeyId));
    if (waitMs === 0) return next();
    next(
      new HttpProblem(
        429,
        'This API key sends more requests than its rate limit allows; retry after the number of seconds in Retry-After.',
        {
          type: 'https://muxly.dev/problems/rate-limited',
        },
        { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
      ),
    );
  };
  app.use('/v1', authenticate, rateLimit);

  // NOTE: body-parser counts the DECOMPRESSED bytes while streaming and stops reading at the limit,
  // so a gzip bomb costs at most `maxRequestBytes` of memory, never its inflated size.
  app.use(
    '/v1',
    express.json({
      limit: options.limits.maxRequestBytes,
      inflate: true,
      strict: true,
      type: 'application/json',
      verify: (request, _response, buffer) => {
        (request as unknown as Record<symbol, number>)[BODY_BYTES] = buffer.length;
      },
    }),
  );
  // The hot route is validated by its own validator, compiled once from the same OpenAPI document,
  // and answers before the generic middleware below would (see compileOperationValidator).
  app.post(
    '/v1/metrics',
    validateRequest(compileOperationValidator(loadIngestOpenApi(), '/v1/metrics', 'post')),
    metricsHandler({ writer: options.writer, metrics, limits: options.limits, tracing: options.tracing }),
  );
  // Every other request under the API (unknown paths 404, other methods 405) as the document says.
  app.use(
    OpenApiValidator.middleware({
      apiSpec: loadIngestOpenApi() as never,
      validateRequests: { allErrors: true },
      validateResponses: false,
      validateSecurity: false,
      ignoreUndocumented: false,
      ignorePaths: /^\/(healthz|readyz|metrics|docs)$/,
    }),
  );
  app.use(problemHandler(options.logger, rejected));
  return app;
}
