import { Migration } from '@mikro-orm/migrations';

// Tables for local users, RBAC, refresh-token sessions and API keys (docs/database.md, docs/security.md).
// The control plane's auth layer fills and checks them; credentials are stored only as hashes.
export class Migration20261123000200Auth extends Migration {
  override name = 'Migration20261123000200_auth';

  override up(): void {
    this.addSql(`create table if not exists users (
      id text primary key,
      username text not null unique,
      email text unique,
      display_name text,
      password_hash text,
      external_subject text unique,
      disabled boolean not null default false,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists roles (
      id text primary key,
      name text not null unique,
      description text,
      builtin boolean not null default false,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists permissions (
      id text primary key,
      description text)`);
    this.addSql(`create table if not exists role_permissions (
      role_id text not null references roles (id) on delete cascade,
      permission_id text not null references permissions (id) on delete cascade,
      primary key (role_id, permission_id))`);
    this.addSql(`create table if not exists user_roles (
      user_id text not null references users (id) on delete cascade,
      role_id text not null references roles (id) on delete restrict,
      primary key (user_id, role_id))`);
    this.addSql(`create table if not exists sessions (
      id text primary key,
      user_id text not null references users (id) on delete cascade,
      refresh_token_hash text not null unique,
      user_agent text,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz)`);
    this.addSql(`create index if not exists sessions_user_idx on sessions (user_id)`);
    this.addSql(`create table if not exists api_keys (
      id text primary key,
      name text not null,
      prefix text not null unique,
      key_hash text not null,
      user_id text references users (id) on delete cascade,
      role_id text references roles (id) on delete restrict,
      scopes jsonb not null default '[]',
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz)`);
  }

  override down(): void {
    for (const table of ['api_keys', 'sessions', 'user_roles', 'role_permissions', 'permissions', 'roles', 'users']) {
      this.addSql(`drop table if exists ${table}`);
    }
  }
}
