import type { MikroORM } from '@mikro-orm/postgresql';
import { isEncryptedValue, type EncryptedValue, type SecretKeyring } from '@muxly/common';
import { ConnectorEntity, DestinationEntity, WebhookTriggerEntity, type LooseEntityName } from '../db/entities.ts';
import type { ConfigKind } from '../config/publisher.ts';

// Key rotation: add a new key to controlPlane.secrets.keys, make it active, run this, then
// remove the old key. Every stored secret not under the active key is decrypted with its own
// key and encrypted again under the active one. Each object is its own transaction and goes
// through the version check, so a concurrent API edit is never overwritten; rerunning is safe.

interface SecretColumn {
  kind: ConfigKind;
  entity: LooseEntityName;
  field: 'credentials' | 'secret';
}

const COLUMNS: SecretColumn[] = [
  { kind: 'connector', entity: ConnectorEntity as LooseEntityName, field: 'credentials' },
  { kind: 'destination', entity: DestinationEntity as LooseEntityName, field: 'credentials' },
  { kind: 'webhook-trigger', entity: WebhookTriggerEntity as LooseEntityName, field: 'secret' },
];

export interface ReencryptResult {
  examined: number;
  reencrypted: { kind: ConfigKind; id: string }[];
}

export async function reencryptSecrets(orm: MikroORM, keyring: SecretKeyring): Promise<ReencryptResult> {
  const result: ReencryptResult = { examined: 0, reencrypted: [] };
  for (const column of COLUMNS) {
    const rows = (await orm.em
      .fork()
      .find(column.entity, { [column.field]: { $ne: null } }, { fields: ['id'], orderBy: { id: 'asc' } })) as {
      id: string;
    }[];
    for (const { id } of rows) {
      result.examined++;
      const changed = await orm.em.fork().transactional(async (em) => {
        const row = (await em.findOne(column.entity, { id })) as Record<string, unknown> | null;
        const value = row?.[column.field];
        if (!row || !isEncryptedValue(value)) return false;
        const next = keyring.reencrypt(value as EncryptedValue, `${column.kind}/${id}`);
        if (!next.changed) return false;
        row[column.field] = next.value;
        await em.flush();
        return true;
      });
      if (changed) result.reencrypted.push({ kind: column.kind, id });
    }
  }
  return result;
}
