import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '@muxly/common';
import type { Authorizer } from '../app.ts';
import type { OpenApiDocument } from '../http/docs.ts';
import { ApiProblem, sendProblem } from '../http/problem.ts';
import { PUBLIC } from './permissions.ts';
import { may, type Principal, type PrincipalResolver } from './principal.ts';

// The one place requests are authenticated and authorized. The operation table comes from the
// OpenAPI document: each operation's `x-muxly-permission` decides. It runs BEFORE request
// validation, so an anonymous or unauthorized caller learns nothing about the request shape
// (401/403, never a 400 listing the fields). The app's post-validation hook (authorizer below)
// checks the same permission again against the operation the validator matched.

interface OperationEntry {
  method: string;
  pattern: RegExp;
  permission: string | undefined;
  literalSegments: number;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function operationTable(document: OpenApiDocument): OperationEntry[] {
  const entries: OperationEntry[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    const source = path
      .split('/')
      .map((segment) => (/^\{.+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      entries.push({
        method: method.toUpperCase(),
        pattern: new RegExp(`^${source}/?$`),
        permission: operation['x-muxly-permission'],
        literalSegments: path.split('/').filter((s) => s && !s.startsWith('{')).length,
      });
    }
  }
  // Literal paths win over templated ones (/auth/me before /{id}-like templates).
  return entries.sort((a, b) => b.literalSegments - a.literalSegments);
}

export const principalOf = (response: Response): Principal | undefined =>
  response.locals.principal as Principal | undefined;

function challenge(response: Response, problem: ApiProblem): void {
  if (problem.status === 401) response.setHeader('WWW-Authenticate', 'Bearer realm="muxly"');
  sendProblem(response, problem.status, problem.type, problem.message);
}

export function authenticationMiddleware(
  document: OpenApiDocument,
  resolver: PrincipalResolver,
  logger: Logger,
): RequestHandler {
  const table = operationTable(document);
  return async (request: Request, response: Response, next: NextFunction) => {
    if (!request.path.startsWith('/api/')) return next();
    const operation = table.find((entry) => entry.method === request.method && entry.pattern.test(request.path));
    // Unknown endpoints fall through to the validator's 404/405.
    if (!operation) return next();
    if (operation.permission === PUBLIC) return next();
    try {
      const principal = await resolver.resolve(request);
      if (!principal)
        throw new ApiProblem(
          401,
          'unauthorized',
          'authentication required: send "Authorization: Bearer <access token or API key>"',
        );
      if (typeof operation.permission !== 'string')
        throw new ApiProblem(500, 'internal', 'the operation declares no permission');
      if (!may(principal, operation.permission)) {
        logger.info('access denied', {
          principal: principal.name,
          kind: principal.kind,
          permission: operation.permission,
          method: request.method,
          path: request.path,
        });
        throw new ApiProblem(403, 'forbidden', `this operation needs the permission "${operation.permission}"`);
      }
      response.locals.principal = principal;
      next();
    } catch (error) {
      if (error instanceof ApiProblem) return challenge(response, error);
      next(error);
    }
  };
}

/** The app's post-validation check: the operation the validator matched must be allowed to the principal found above. */
export const authorizer: Authorizer = (_request, response, permission) => {
  if (permission === PUBLIC) return;
  const principal = principalOf(response);
  if (!principal) throw new ApiProblem(401, 'unauthorized', 'authentication required');
  if (!may(principal, permission))
    throw new ApiProblem(403, 'forbidden', `this operation needs the permission "${permission}"`);
};
