import { Migration } from '@mikro-orm/migrations';

// The pipeline objects (docs/database.md). Ids are opaque text chosen by the user or generated.
// Every mutable object carries `version` for optimistic concurrency (ETag / If-Match).
// References are real foreign keys: ON DELETE RESTRICT where deleting the target must be refused
// while something uses it, CASCADE where the child is part of its parent.
export class Migration20261123000100Pipeline extends Migration {
  override name = 'Migration20261123000100_pipeline';

  override up(): void {
    this.addSql(`create table if not exists connectors (
      id text primary key,
      name text not null unique,
      type text not null,
      enabled boolean not null default true,
      config jsonb not null default '{}',
      credentials jsonb,
      state jsonb,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists destinations (
      id text primary key,
      name text not null unique,
      type text not null,
      enabled boolean not null default true,
      config jsonb not null default '{}',
      credentials jsonb,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists routing_rules (
      id text primary key,
      name text not null unique,
      priority integer not null default 100,
      enabled boolean not null default true,
      condition jsonb,
      stop_on_match boolean not null default false,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists rule_transformations (
      rule_id text not null references routing_rules (id) on delete cascade,
      position integer not null,
      spec jsonb not null,
      primary key (rule_id, position))`);
    this.addSql(`create table if not exists rule_destinations (
      rule_id text not null references routing_rules (id) on delete cascade,
      destination_id text not null references destinations (id) on delete restrict,
      position integer not null,
      primary key (rule_id, destination_id))`);
    this.addSql(`create index if not exists rule_destinations_destination_idx on rule_destinations (destination_id)`);
    this.addSql(`create table if not exists routes (
      id text primary key,
      name text not null unique,
      connector_id text references connectors (id) on delete restrict,
      enabled boolean not null default true,
      error_handling jsonb not null default '{}',
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists route_rules (
      route_id text not null references routes (id) on delete cascade,
      rule_id text not null references routing_rules (id) on delete restrict,
      position integer not null,
      primary key (route_id, rule_id))`);
    this.addSql(`create index if not exists route_rules_rule_idx on route_rules (rule_id)`);
    this.addSql(`create table if not exists scheduler_jobs (
      id text primary key,
      name text not null unique,
      connector_id text not null references connectors (id) on delete restrict,
      action text not null default 'sync',
      params jsonb not null default '{}',
      schedule text,
      timezone text not null default 'UTC',
      enabled boolean not null default true,
      max_retries integer not null default 3,
      backoff jsonb not null default '{}',
      timeout_seconds integer not null default 3600,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists job_executions (
      id text primary key,
      job_id text not null references scheduler_jobs (id) on delete cascade,
      status text not null check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
      attempt integer not null default 1,
      triggered_by text not null check (triggered_by in ('schedule', 'manual', 'webhook', 'retry')),
      started_at timestamptz,
      ended_at timestamptz,
      counts jsonb not null default '{}',
      error text,
      progress jsonb,
      created_at timestamptz not null default now())`);
    this.addSql(`create index if not exists job_executions_job_idx on job_executions (job_id, created_at desc)`);
    this.addSql(`create index if not exists job_executions_status_idx on job_executions (status)`);
    this.addSql(`create table if not exists webhook_triggers (
      id text primary key,
      job_id text not null references scheduler_jobs (id) on delete restrict,
      path text not null unique,
      secret jsonb,
      enabled boolean not null default true,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
    this.addSql(`create table if not exists settings (
      key text primary key,
      value jsonb not null,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
  }

  override down(): void {
    for (const table of [
      'settings',
      'webhook_triggers',
      'job_executions',
      'scheduler_jobs',
      'route_rules',
      'routes',
      'rule_destinations',
      'rule_transformations',
      'routing_rules',
      'destinations',
      'connectors',
    ]) {
      this.addSql(`drop table if exists ${table}`);
    }
  }
}
