import { Migration } from '@mikro-orm/migrations';

// API keys are looked up by their hash on every request that carries one: a unique index makes
// that one index probe (and two rows with the same hash impossible).
export class Migration20261124000100ApiKeyLookup extends Migration {
  override name = 'Migration20261124000100_api_key_lookup';

  override up(): void {
    this.addSql(`create unique index if not exists api_keys_key_hash_idx on api_keys (key_hash)`);
  }

  override down(): void {
    this.addSql(`drop index if exists api_keys_key_hash_idx`);
  }
}
