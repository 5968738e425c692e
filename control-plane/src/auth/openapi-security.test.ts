import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { OPENAPI_PATH } from '../http/docs.ts';
import { API_KEYS_SYNC, PUBLIC } from './permissions.ts';
import { may, type Principal } from './principal.ts';

// The OpenAPI document tells clients (Swagger UI's Authorize, generated clients) which credentials
// each operation accepts; that must be what the server's authorization does: a signed-in user's
// access token, an API key holding the permission, ingest's service token for the key sync.

interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  'x-muxly-permission': string;
}

const document = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
};
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const operations = Object.values(document.paths).flatMap((item) =>
  METHODS.flatMap((method) => (item[method] ? [item[method]] : [])),
);

/** A principal of the given kind holding exactly the permission asked about. */
const holding = (kind: Principal['kind'], permission: string): Principal => ({
  kind,
  id: kind,
  name: kind,
  roles: [],
  permissions: new Set([permission]),
});

function acceptedSchemes(permission: string): string[] {
  if (permission === PUBLIC) return [];
  const schemes: string[] = [];
  if (may(holding('user', permission), permission) && may(holding('sso', permission), permission))
    schemes.push('accessToken');
  if (may(holding('api-key', permission), permission)) schemes.push('apiKey');
  if (permission === API_KEYS_SYNC) schemes.push('serviceToken');
  return schemes;
}

test('the document declares the access-token, API-key and service-token schemes', () => {
  expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['accessToken', 'apiKey', 'serviceToken']);
});

test.each(operations.map((operation) => [operation.operationId, operation] as const))(
  '%s states the credentials the server accepts',
  (_id, operation) => {
    expect(operation.security).toBeDefined();
    const stated = operation.security!.flatMap((requirement) => Object.keys(requirement));
    expect(stated).toEqual(acceptedSchemes(operation['x-muxly-permission']));
  },
);
