import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import {
  handleHealthRequest,
  problem,
  PROBLEM_CONTENT_TYPE,
  setSecurityHeaders,
  type HealthEndpoints,
} from '@muxly/common';
import type { ControlPlaneContext } from './context.ts';
import type { HealthReport } from './diagnosis/health.ts';
import { HISTORY_MINUTES, type MetricsHistory } from './diagnosis/metrics-history.ts';
import { consoleRoutes } from './http/console.ts';
import { docsRoutes, OPENAPI_PATH } from './http/docs.ts';
import { PROBLEM_TYPE_BASE, problemMiddleware, sendProblem } from './http/problem.ts';
import { jobRoutes } from './resources/jobs.routes.ts';
import { routeRoutes } from './resources/routes.routes.ts';
import { ruleRoutes } from './resources/rules.routes.ts';
import { templateRoutes } from './resources/templates.routes.ts';
import { connectorRoutes } from './resources/connectors.routes.ts';
import { destinationRoutes } from './resources/destinations.routes.ts';
import { webhookTriggerRoutes } from './resources/webhook-triggers.routes.ts';

/**
 * Decides whether a request may run an operation that needs `permission` (the operation's
 * `x-muxly-permission` in the OpenAPI document). Throw an ApiProblem (401/403) to refuse. This
 * is the one place authentication and RBAC plug in; without it every request is allowed.
 */
export type Authorizer = (request: Request, response: Response, permission: string) => Promise<void> | void;

export interface AppOptions {
  context: ControlPlaneContext;
  health: HealthEndpoints;
  healthReport: () => Promise<HealthReport>;
  /** The services' rates and lag over the last hour (diagnosis/metrics-history.ts). */
  metricsHistory?: MetricsHistory;
  authorize?: Authorizer;
  /** Authentication and the permission check, before request validation (auth/authorization.ts). */
  authenticate?: RequestHandler;
  /** Sign-in, users, roles and API keys (auth/). */
  authRoutes?: Router[];
  /** Check every response against the OpenAPI document too (tests); an invalid one becomes a 500. */
  validateResponses?: boolean;
  /** The scheduler's routers (scheduler/scheduling.ts): public webhooks and the run/cancel operations. */
  scheduling?: { hooks: Router; api: Router };
  /** The operator's tools: dead letters, replays (dead-letters/). */
  operations?: Router[];
  /** Origins besides its own the web console may fetch (the Keycloak realm it signs users in at). */
  consoleConnectOrigins?: string[];
}

type OpenApiRequest = Request & { openapi?: { schema?: Record<string, unknown> } };

export function createApp(options: AppOptions): Express {
  const { context } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  app.use((request, response, next) => {
    setSecurityHeaders(response);
    // API answers are per caller and may carry tokens or keys: no cache (browser or proxy) keeps them.
    if (request.path.startsWith('/api/')) response.setHeader('Cache-Control', 'no-store');
    next();
  });

  app.use((request, response, next) => {
    handleHealthRequest(request, response, options.health).then((handled) => (handled ? undefined : next()), next);
  });
  app.use(docsRoutes());
  // The web console: static files; every API call it makes is authenticated like any other.
  app.use(consoleRoutes({ connectOrigins: options.consoleConnectOrigins }));
  // Before the JSON parser: webhook signatures are checked over the raw body bytes.
  if (options.scheduling) app.use(options.scheduling.hooks);
  if (options.authenticate) app.use(options.authenticate);
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: OPENAPI_PATH,
      validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: true },
      validateResponses: options.validateResponses ? { removeAdditional: false } : false,
      validateFormats: true,
      // Authentication is the auth layer's (authenticate/authorize above), not the validator's.
      validateSecurity: false,
      ignorePaths: (path: string) => !path.startsWith('/api/'),
    }),
  );

  // Every documented operation declares its permission; one middleware enforces it.
  app.use('/api', async (request: OpenApiRequest, response: Response, next: NextFunction) => {
    const permission = request.openapi?.schema?.['x-muxly-permission'];
    if (typeof permission !== 'string') {
      return sendProblem(response, 500, 'internal', 'the operation declares no permission');
    }
    response.locals.permission = permission;
    try {
      await options.authorize?.(request, response, permission);
      next();
    } catch (error) {
      next(error);
    }
  });

  for (const routes of options.authRoutes ?? []) app.use(routes);
  app.use(connectorRoutes(context));
  app.use(destinationRoutes(context));
  app.use(ruleRoutes(context));
  app.use(routeRoutes(context));
  app.use(jobRoutes(context));
  if (options.scheduling) app.use(options.scheduling.api);
  app.use(webhookTriggerRoutes(context));
  app.use(templateRoutes(context));
  for (const routes of options.operations ?? []) app.use(routes);
  app.get('/api/v1/health', async (_request, response) => {
    response.json(await options.healthReport());
  });
  app.get('/api/v1/metrics/history', (request, response) => {
    if (!options.metricsHistory)
      return sendProblem(response, 503, 'unavailable', 'the metrics history is not kept by this instance');
    // The validator checked the range and coerced the number.
    const minutes = (request.query.minutes as number | undefined) ?? HISTORY_MINUTES;
    response.json(options.metricsHistory.history(minutes));
  });

  app.use((request: Request, response: Response) =>
    sendProblem(response, 404, 'not-found', `no such endpoint: ${request.method} ${request.path}`),
  );
  app.use(problemMiddleware(context.logger));
  // Last resort, when rendering a problem itself failed (e.g. the response validator refused it
  // in tests): still a problem, never Express's default HTML page with a stack trace.
  app.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
    if (response.headersSent) return next(error);
    context.logger.error('error response failed', { error: error instanceof Error ? error.message : String(error) });
    response.writeHead(500, { 'content-type': PROBLEM_CONTENT_TYPE });
    response.end(
      JSON.stringify(
        problem(500, 'the request failed unexpectedly; the server log has the details', {
          type: `${PROBLEM_TYPE_BASE}internal`,
        }),
      ),
    );
  });
  return app;
}
