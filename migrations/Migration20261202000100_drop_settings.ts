import { Migration } from '@mikro-orm/migrations';

// The free-form `settings` table (key → JSON, with its /api/v1/settings operations) was written
// through the API but read by no service: a setting stored there changed nothing. The deployment's
// settings live in the settings file, the pipeline's in their own tables, so the table goes
// (docs/database.md says why). Its permissions go with it; role_permissions rows cascade.
export class Migration20261202000100DropSettings extends Migration {
  override name = 'Migration20261202000100_drop_settings';

  override up(): void {
    this.addSql(`drop table if exists settings`);
    this.addSql(`delete from permissions where id in ('settings:read', 'settings:write')`);
  }

  override down(): void {
    this.addSql(`create table if not exists settings (
      key text primary key,
      value jsonb not null,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`);
  }
}
