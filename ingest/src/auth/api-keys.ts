import { createHash, timingSafeEqual } from 'node:crypto';

export interface ApiKeyEntry {
  id: string;
  /** `sha256:<hex>` of the key. */
  hash: string;
}

export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/**
 * Verifies ingest API keys against stored SHA-256 hashes. Keys are long random tokens, so a fast
 * hash is enough (no dictionary to attack) and keeps the hot path cheap; the key itself is never
 * kept in memory after the request.
 */
export class ApiKeyVerifier {
  readonly #byHash = new Map<string, { id: string; digest: Buffer }>();

  constructor(entries: readonly ApiKeyEntry[]) {
    this.replace(entries);
  }

  /** Swaps the whole key set (configuration reload). */
  replace(entries: readonly ApiKeyEntry[]): void {
    this.#byHash.clear();
    for (const entry of entries) {
      this.#byHash.set(entry.hash, { id: entry.id, digest: Buffer.from(entry.hash.slice('sha256:'.length), 'hex') });
    }
  }

  /** Returns the key's id, or undefined when the key is unknown. */
  verify(presented: string): string | undefined {
    const hash = hashApiKey(presented);
    const entry = this.#byHash.get(hash);
    if (!entry) return undefined;
    // The map lookup already matched; the constant-time compare keeps the check explicit.
    const digest = Buffer.from(hash.slice('sha256:'.length), 'hex');
    return timingSafeEqual(digest, entry.digest) ? entry.id : undefined;
  }
}

/** Reads the key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedApiKey(headers: {
  authorization?: string | undefined;
  'x-api-key'?: string | string[] | undefined;
}): string | undefined {
  const authorization = headers.authorization;
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim() || undefined;
  const header = headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value?.trim() || undefined;
}
