import type { EntityManager } from '@mikro-orm/postgresql';

// SQL over the auth tables (migrations/Migration20261123000200_auth.ts). Raw parameterized SQL
// keeps the queries that run on every request (principal lookups) to one round trip each.
// NOTE: arrays travel as JSON text (jsonb_array_elements_text) rather than driver arrays, whose
// expansion of `?` placeholders differs between drivers.

export type Sql = EntityManager;

/** Runs a query; `*_at` columns come back as Date (raw queries return timestamps as text). */
export async function rows<T>(em: Sql, query: string, params: unknown[] = []): Promise<T[]> {
  const found = await em.execute<Record<string, unknown>[]>(query, params, 'all');
  for (const row of found) {
    for (const [key, value] of Object.entries(row)) {
      if (key.endsWith('_at') && typeof value === 'string') row[key] = new Date(value);
    }
  }
  return found as T[];
}

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  password_hash: string | null;
  disabled: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
  roles: string[];
}

const USER_COLUMNS = `u.id, u.username, u.email, u.display_name, u.password_hash, u.disabled, u.version, u.created_at, u.updated_at,
  coalesce((select json_agg(r.name order by r.name) from user_roles ur join roles r on r.id = ur.role_id where ur.user_id = u.id), '[]'::json) as roles`;

export async function findUser(em: Sql, where: { id: string } | { login: string }): Promise<UserRow | null> {
  const [row] =
    'id' in where
      ? await rows<UserRow>(em, `select ${USER_COLUMNS} from users u where u.id = ?`, [where.id])
      : // A user name wins over another user's email (the API refuses such overlaps; older rows may have them).
        await rows<UserRow>(
          em,
          `select ${USER_COLUMNS} from users u where lower(u.username) = lower(?) or lower(u.email) = lower(?)
           order by (lower(u.username) = lower(?)) desc, u.created_at limit 1`,
          [where.login, where.login, where.login],
        );
  return row ?? null;
}

/** True when another user already signs in with this name (as user name or email). */
export async function loginTaken(em: Sql, login: string, exceptUserId?: string): Promise<boolean> {
  const found = await rows<{ id: string }>(
    em,
    `select id from users where (lower(username) = lower(?) or lower(email) = lower(?)) and id <> ?`,
    [login, login, exceptUserId ?? ''],
  );
  return found.length > 0;
}

export const listUsers = (em: Sql) => rows<UserRow>(em, `select ${USER_COLUMNS} from users u order by u.username`);

export async function countUsers(em: Sql): Promise<number> {
  const [row] = await rows<{ count: string }>(em, `select count(*) as count from users`);
  return Number(row?.count ?? 0);
}

/** Role ids for names; names that do not exist are returned as missing. */
export async function roleIds(em: Sql, names: readonly string[]): Promise<{ ids: string[]; missing: string[] }> {
  const found = await rows<{ id: string; name: string }>(
    em,
    `select id, name from roles where name in (select jsonb_array_elements_text(?::jsonb))`,
    [JSON.stringify(names)],
  );
  const byName = new Map(found.map((row) => [row.name, row.id]));
  return { ids: names.flatMap((name) => byName.get(name) ?? []), missing: names.filter((name) => !byName.has(name)) };
}

export async function setUserRoles(em: Sql, userId: string, ids: readonly string[]): Promise<void> {
  await em.execute(`delete from user_roles where user_id = ?`, [userId]);
  for (const roleId of new Set(ids))
    await em.execute(`insert into user_roles (user_id, role_id) values (?, ?)`, [userId, roleId]);
}

/** Every permission granted by the named roles. */
export async function permissionsOfRoles(em: Sql, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const found = await rows<{ permission_id: string }>(
    em,
    `select distinct rp.permission_id from roles r join role_permissions rp on rp.role_id = r.id where r.name in (select jsonb_array_elements_text(?::jsonb))`,
    [JSON.stringify(names)],
  );
  return new Set(found.map((row) => row.permission_id));
}

export interface RoleRow {
  id: string;
  name: string;
  description: string | null;
  builtin: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
  permissions: string[];
}

const ROLE_COLUMNS = `r.id, r.name, r.description, r.builtin, r.version, r.created_at, r.updated_at,
  coalesce((select json_agg(rp.permission_id order by rp.permission_id) from role_permissions rp where rp.role_id = r.id), '[]'::json) as permissions`;

export const listRoles = (em: Sql) =>
  rows<RoleRow>(em, `select ${ROLE_COLUMNS} from roles r order by r.builtin desc, r.name`);

export async function findRole(em: Sql, id: string): Promise<RoleRow | null> {
  const [row] = await rows<RoleRow>(em, `select ${ROLE_COLUMNS} from roles r where r.id = ? or r.name = ?`, [id, id]);
  return row ?? null;
}

export async function setRolePermissions(em: Sql, roleId: string, permissions: readonly string[]): Promise<void> {
  await em.execute(`delete from role_permissions where role_id = ?`, [roleId]);
  for (const permission of new Set(permissions))
    await em.execute(`insert into role_permissions (role_id, permission_id) values (?, ?)`, [roleId, permission]);
}

/** Makes the permissions table equal the catalogue and the built-in roles equal their definitions (at every start). */
export async function syncCatalogue(
  em: Sql,
  catalogue: readonly string[],
  builtins: Record<string, { description: string; permissions: string[] }>,
): Promise<void> {
  for (const permission of catalogue)
    await em.execute(`insert into permissions (id) values (?) on conflict (id) do nothing`, [permission]);
  for (const [name, role] of Object.entries(builtins)) {
    await em.execute(
      `insert into roles (id, name, description, builtin) values (?, ?, ?, true)
       on conflict (id) do update set description = excluded.description, builtin = true`,
      [name, name, role.description],
    );
    await setRolePermissions(em, name, role.permissions);
  }
}

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  key_hash: string;
  user_id: string | null;
  sso_owner_id: string | null;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  /** What the key's owner may do now; null when the owner is disabled, gone, or was never set. */
  owner_permissions: string[] | null;
}

// NOTE: the owner's permissions are read in the same statement as the key, on every use, so a
// demoted, disabled or deleted owner bounds the key from the next request on. Scopes stored in a
// row are never trusted on their own: a row written by anything but this API (a tampered
// database) gives at most what its owner holds.
const API_KEY_COLUMNS = `k.*, case
    when k.user_id is not null then (
      select case when u.disabled then null else coalesce((
        select json_agg(distinct rp.permission_id) from user_roles ur join role_permissions rp on rp.role_id = ur.role_id
        where ur.user_id = u.id), '[]'::json) end
      from users u where u.id = k.user_id)
    when k.sso_owner_id is not null then (
      select coalesce((
        select json_agg(distinct rp.permission_id) from roles r join role_permissions rp on rp.role_id = r.id
        where r.name in (select jsonb_array_elements_text(s.roles))), '[]'::json)
      from sso_identities s where s.id = k.sso_owner_id)
  end as owner_permissions`;

/** The scopes a key grants now: its stored scopes that its owner still holds. */
export function effectiveScopes(row: ApiKeyRow): string[] {
  const held = new Set(row.owner_permissions ?? []);
  return row.scopes.filter((scope) => held.has(scope));
}

export const listApiKeys = (em: Sql) =>
  rows<ApiKeyRow>(em, `select ${API_KEY_COLUMNS} from api_keys k order by k.created_at desc, k.id`);

export async function findApiKey(em: Sql, where: { id: string } | { hash: string }): Promise<ApiKeyRow | null> {
  const [row] =
    'id' in where
      ? await rows<ApiKeyRow>(em, `select ${API_KEY_COLUMNS} from api_keys k where k.id = ?`, [where.id])
      : await rows<ApiKeyRow>(
          em,
          `select ${API_KEY_COLUMNS} from api_keys k
           where k.key_hash = ? and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())`,
          [where.hash],
        );
  return row ?? null;
}

/** Active keys that grant a scope now (ingest's writers): stored with it, and their owner holds it. */
export async function activeApiKeysWithScope(em: Sql, scope: string): Promise<ApiKeyRow[]> {
  const found = await rows<ApiKeyRow>(
    em,
    `select ${API_KEY_COLUMNS} from api_keys k
     where k.revoked_at is null and (k.expires_at is null or k.expires_at > now()) and k.scopes @> ?::jsonb order by k.id`,
    [JSON.stringify([scope])],
  );
  return found.filter((row) => effectiveScopes(row).includes(scope));
}

/**
 * Remembers the roles of a Keycloak user's latest token: their API keys are bounded by them.
 * Writes only when something changed, so a steady stream of requests costs no write.
 */
export async function recordSsoIdentity(em: Sql, identity: { id: string; username: string; roles: string[] }) {
  await em.execute(
    `insert into sso_identities (id, username, roles) values (?, ?, ?::jsonb)
     on conflict (id) do update set username = excluded.username, roles = excluded.roles, updated_at = now()
     where sso_identities.username <> excluded.username or sso_identities.roles <> excluded.roles`,
    [identity.id, identity.username, JSON.stringify([...identity.roles].sort())],
  );
}
