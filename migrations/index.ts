import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123000100Pipeline } from './Migration20261123000100_pipeline.ts';
import { Migration20261123000200Auth } from './Migration20261123000200_auth.ts';
import { Migration20261123000300Scheduler } from './Migration20261123000300_scheduler.ts';
import { Migration20261124000100ApiKeyLookup } from './Migration20261124000100_api_key_lookup.ts';
import { Migration20261202000100DropSettings } from './Migration20261202000100_drop_settings.ts';
import { Migration20261202000200ApiKeyOwner } from './Migration20261202000200_api_key_owner.ts';
import { Migration20261202000300DeadLetters } from './Migration20261202000300_dead_letters.ts';
import { Migration20261207000100WebhookAllow } from './Migration20261207000100_webhook_allow.ts';

// The ordered list of migrations. Listed explicitly (not discovered by glob) so the same list
// runs under Node's type stripping and under jest. A new migration is a new file and one line here.
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123000100_pipeline', class: Migration20261123000100Pipeline },
  { name: 'Migration20261123000200_auth', class: Migration20261123000200Auth },
  { name: 'Migration20261123000300_scheduler', class: Migration20261123000300Scheduler },
  { name: 'Migration20261124000100_api_key_lookup', class: Migration20261124000100ApiKeyLookup },
  { name: 'Migration20261202000100_drop_settings', class: Migration20261202000100DropSettings },
  { name: 'Migration20261202000200_api_key_owner', class: Migration20261202000200ApiKeyOwner },
  { name: 'Migration20261202000300_dead_letters', class: Migration20261202000300DeadLetters },
  { name: 'Migration20261207000100_webhook_allow', class: Migration20261207000100WebhookAllow },
];
