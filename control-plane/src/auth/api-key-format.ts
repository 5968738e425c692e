import { createHash, randomBytes } from 'node:crypto';

// API keys: `mxk_` + 43 base64url characters (256 random bits). Stored as `sha256:<hex>`, the
// format ingest's verifier reads (ingest/src/auth/api-keys.ts); a key is long and random, so a
// fast hash is safe (there is no dictionary to try). The prefix (first 12 characters) is kept in
// clear so a user can tell keys apart in lists and logs.

const API_KEY_PREFIX = 'mxk_';

export function newApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, 12), hash: hashApiKey(key) };
}

export const hashApiKey = (key: string) => `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
