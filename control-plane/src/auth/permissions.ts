import type { OpenApiDocument } from '../http/docs.ts';

// Permissions are `resource:action` strings; the catalogue is every `x-muxly-permission` the
// OpenAPI document declares (plus `metrics:write`, the ingest scope of API keys). Built-in roles
// are defined by rules over the catalogue, so a new operation is covered without editing them.

export const PUBLIC = 'public';
/** Permissions of one's own account (profile, password, logout): every signed-in user has them. */
export const ACCOUNT_PERMISSIONS = ['account:read', 'account:write'];
/** The scope an API key needs to write metrics to ingest. */
export const METRICS_WRITE = 'metrics:write';
/** What ingest's service token may do: read the API key hashes. */
export const API_KEYS_SYNC = 'api-keys:sync';

const ADMIN_ONLY_RESOURCES = new Set(['users', 'roles', 'api-keys']);

export type BuiltinRole = 'admin' | 'editor' | 'viewer';
export const BUILTIN_ROLES: Record<BuiltinRole, { description: string; grants: (permission: string) => boolean }> = {
  admin: { description: 'Everything, including users, roles and API keys.', grants: () => true },
  editor: {
    description:
      'Reads and changes the pipeline (connectors, destinations, rules, routes, jobs, triggers); no users, roles or API keys.',
    grants: (permission) => !ADMIN_ONLY_RESOURCES.has(resourceOf(permission)),
  },
  viewer: {
    description: 'Reads the pipeline and its health; changes nothing.',
    grants: (permission) => !ADMIN_ONLY_RESOURCES.has(resourceOf(permission)) && permission.endsWith(':read'),
  },
};

const resourceOf = (permission: string) => permission.slice(0, permission.indexOf(':'));

export function permissionCatalogue(document: OpenApiDocument): string[] {
  const permissions = new Set<string>([METRICS_WRITE]);
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      const permission = operation['x-muxly-permission'];
      if (typeof permission === 'string' && permission !== PUBLIC && !ACCOUNT_PERMISSIONS.includes(permission))
        permissions.add(permission);
    }
  }
  return [...permissions].sort();
}

/** The permissions of a built-in role, from the catalogue. */
export const builtinPermissions = (role: BuiltinRole, catalogue: readonly string[]) =>
  catalogue.filter((permission) => BUILTIN_ROLES[role].grants(permission));
