import { Migration } from '@mikro-orm/migrations';

// A webhook destination's `allow` list let an editor open internal addresses (loopback, the
// control plane's database, cloud metadata) to their own destination. Which internal addresses
// any outbound connection may reach is now the operator's `outbound.allowAddresses` alone, and
// the field is no longer part of the webhook's schema: stored configs lose it (with a new version,
// so the change is visible and published), and a webhook that needed it needs an operator entry.
export class Migration20261207000100WebhookAllow extends Migration {
  override name = 'Migration20261207000100_webhook_allow';

  override up(): void {
    this.addSql(`update destinations
      set config = config - 'allow', version = version + 1, updated_at = now()
      where type = 'webhook' and config ? 'allow'`);
  }

  override down(): void {
    // The removed lists are not kept: an editor's allow-list is what this migration retires.
  }
}
