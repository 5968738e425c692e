import { Migration } from '@mikro-orm/migrations';

// What the scheduler needs beyond the original tables (docs/scheduling.md):
// - job_executions: the parameters of the run, when it may be dispatched (retries wait for their
//   backoff), when it was dispatched and its deadline (timeouts), and the link to the attempt it
//   retries. NOTE: "exactly one firing" with several control-plane instances rests on the two
//   unique indexes: one execution per (job, cron tick) and one retry per failed attempt; every
//   instance inserts with ON CONFLICT DO NOTHING and only the winner dispatches.
// - webhook_deliveries: replay protection, one row per (trigger, delivery id).
// - webhook_triggers.previous_secret: during a rotation the old secret stays valid for a grace
//   period. A database trigger keeps it, so every path that changes a secret (API, seed file,
//   SQL) rotates the same way.
export class Migration20261123000300Scheduler extends Migration {
  override name = 'Migration20261123000300_scheduler';

  override up(): void {
    this.addSql(`alter table job_executions
      add column if not exists params jsonb not null default '{}',
      add column if not exists scheduled_for timestamptz,
      add column if not exists retry_of text,
      add column if not exists not_before timestamptz not null default now(),
      add column if not exists dispatched_at timestamptz,
      add column if not exists deadline_at timestamptz`);
    this.addSql(
      `create unique index if not exists job_executions_tick_uq on job_executions (job_id, scheduled_for) where scheduled_for is not null`,
    );
    this.addSql(
      `create unique index if not exists job_executions_retry_uq on job_executions (retry_of) where retry_of is not null`,
    );
    this.addSql(
      `create index if not exists job_executions_due_idx on job_executions (not_before) where status = 'queued' and dispatched_at is null`,
    );
    this.addSql(
      `create index if not exists job_executions_deadline_idx on job_executions (deadline_at) where status in ('queued', 'running')`,
    );
    this.addSql(`create table if not exists webhook_deliveries (
      trigger_id text not null references webhook_triggers (id) on delete cascade,
      delivery_id text not null,
      execution_id text references job_executions (id) on delete set null,
      received_at timestamptz not null default now(),
      primary key (trigger_id, delivery_id))`);
    this.addSql(`create index if not exists webhook_deliveries_received_idx on webhook_deliveries (received_at)`);
    this.addSql(`alter table webhook_triggers
      add column if not exists previous_secret jsonb,
      add column if not exists secret_rotated_at timestamptz`);
    this.addSql(`create or replace function muxly_webhook_secret_rotation() returns trigger language plpgsql as $$
      begin
        if new.secret is distinct from old.secret then
          new.previous_secret := old.secret;
          new.secret_rotated_at := now();
        end if;
        return new;
      end $$`);
    this.addSql(`drop trigger if exists webhook_triggers_secret_rotation on webhook_triggers`);
    this.addSql(`create trigger webhook_triggers_secret_rotation before update of secret on webhook_triggers
      for each row execute function muxly_webhook_secret_rotation()`);
  }

  override down(): void {
    this.addSql(`drop trigger if exists webhook_triggers_secret_rotation on webhook_triggers`);
    this.addSql(`drop function if exists muxly_webhook_secret_rotation()`);
    this.addSql(
      `alter table webhook_triggers drop column if exists previous_secret, drop column if exists secret_rotated_at`,
    );
    this.addSql(`drop table if exists webhook_deliveries`);
    this.addSql(`drop index if exists job_executions_tick_uq`);
    this.addSql(`drop index if exists job_executions_retry_uq`);
    this.addSql(`drop index if exists job_executions_due_idx`);
    this.addSql(`drop index if exists job_executions_deadline_idx`);
    this
      .addSql(`alter table job_executions drop column if exists params, drop column if exists scheduled_for, drop column if exists retry_of,
      drop column if exists not_before, drop column if exists dispatched_at, drop column if exists deadline_at`);
  }
}
