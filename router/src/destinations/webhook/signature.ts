import { createHash, createHmac } from 'node:crypto';

// Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
// `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256, base64, sent as `v1,<signature>`.

/** The key bytes: "whsec_" secrets carry base64; any other string is used as UTF-8. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

export function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/**
 * The webhook-id of a request: the event id for one event, a digest of the ids for a batch.
 * NOTE: it must be the same on every retry and redelivery, so receivers can deduplicate by it.
 */
export function webhookId(ids: readonly string[]): string {
  if (ids.length === 1) return ids[0]!;
  return `batch_${createHash('sha256').update(ids.join('\n')).digest('base64url').slice(0, 32)}`;
}
