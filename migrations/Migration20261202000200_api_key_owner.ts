import { Migration } from '@mikro-orm/migrations';

// Every API key has an owner whose current permissions bound the key's scopes: a local user
// (`user_id`) or a Keycloak user (`sso_owner_id`). Keycloak users are not stored otherwise, so
// `sso_identities` keeps the roles of each one's latest token: that is what their keys are checked
// against. Keys made before owners existed (by Keycloak users or by other keys) have none and
// are revoked here, since nothing could bound them.
export class Migration20261202000200ApiKeyOwner extends Migration {
  override name = 'Migration20261202000200_api_key_owner';

  override up(): void {
    this.addSql(`create table if not exists sso_identities (
      id text primary key,
      username text not null,
      roles jsonb not null default '[]',
      updated_at timestamptz not null default now())`);
    this.addSql(
      `alter table api_keys add column if not exists sso_owner_id text references sso_identities (id) on delete cascade`,
    );
    this.addSql(
      `update api_keys set revoked_at = now() where user_id is null and sso_owner_id is null and revoked_at is null`,
    );
    this.addSql(`alter table api_keys add constraint api_keys_owner_check
      check (num_nonnulls(user_id, sso_owner_id) = 1 or revoked_at is not null)`);
  }

  override down(): void {
    this.addSql(`alter table api_keys drop constraint if exists api_keys_owner_check`);
    this.addSql(`alter table api_keys drop column if exists sso_owner_id`);
    this.addSql(`drop table if exists sso_identities`);
  }
}
