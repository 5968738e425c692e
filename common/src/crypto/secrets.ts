import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors.ts';

// AES-256-GCM encryption of secrets (connector and destination credentials) under a versioned
// platform key. Wire form, stored in PostgreSQL and published on the config topic:
//
//   { "$encrypted": "v1:<keyId>:<base64( iv[12] | ciphertext | tag[16] )>" }
//
// The plaintext is the UTF-8 JSON of the secret value. The additional authenticated data is
// "<context>" (e.g. "destination/orders-s3"), so a ciphertext copied onto another object does not
// decrypt there. Decryption picks the key by the id in the value, which is what makes rotation
// possible: add a new key, make it active, re-encrypt, then remove the old key.

export const ENCRYPTED_MARKER = '$encrypted';
const FORMAT_VERSION = 'v1';
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface EncryptedValue {
  [ENCRYPTED_MARKER]: string;
}

export interface SecretKeySettings {
  keys: { id: string; key: string }[];
  activeKeyId?: string | undefined;
}

/** The key id used when no key is configured: a fixed, public key only fit for local development. */
export const DEVELOPMENT_KEY_ID = 'development';
// NOTE: derived from a public string, so anyone can decrypt what it protects. Services log a loud
// warning whenever it is in use; it exists so the local stack works with zero configuration.
const DEVELOPMENT_KEY = createHash('sha256')
  .update('muxly development key - not secret - configure controlPlane.secrets')
  .digest();

/** True when a configured key (base64) is the public development key. */
export const isDevelopmentKey = (base64: string) => Buffer.from(base64, 'base64').equals(DEVELOPMENT_KEY);

export function isEncryptedValue(value: unknown): value is EncryptedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as Record<string, unknown>)[ENCRYPTED_MARKER] === 'string'
  );
}

export class SecretKeyring {
  readonly activeKeyId: string;
  /** True when no key was configured and the public development key is in use. */
  readonly usesDevelopmentKey: boolean;
  readonly #keys: Map<string, Buffer>;

  constructor(settings: SecretKeySettings) {
    this.#keys = new Map();
    const problems: string[] = [];
    settings.keys.forEach((entry, index) => {
      if (!KEY_ID.test(entry.id)) problems.push(`controlPlane.secrets.keys.${index}.id must match ${KEY_ID.source}`);
      const key = Buffer.from(entry.key, 'base64');
      if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== entry.key.trim().replace(/=+$/, '')) {
        problems.push(
          `controlPlane.secrets.keys.${index}.key must be the base64 of exactly 32 bytes (openssl rand -base64 32)`,
        );
      }
      if (this.#keys.has(entry.id))
        problems.push(`controlPlane.secrets.keys.${index}.id "${entry.id}" is listed twice`);
      this.#keys.set(entry.id, key);
    });
    this.usesDevelopmentKey = settings.keys.length === 0;
    if (this.usesDevelopmentKey) this.#keys.set(DEVELOPMENT_KEY_ID, DEVELOPMENT_KEY);
    this.activeKeyId = settings.activeKeyId ?? settings.keys.at(-1)?.id ?? DEVELOPMENT_KEY_ID;
    if (!this.#keys.has(this.activeKeyId))
      problems.push(`controlPlane.secrets.activeKeyId "${this.activeKeyId}" is not one of the listed keys`);
    if (problems.length > 0) throw new ConfigurationError('Invalid secret keys', problems);
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Encrypts a JSON value under the active key, bound to `context` (e.g. "destination/<id>"). */
  encrypt(value: unknown, context: string): EncryptedValue {
    const key = this.#keys.get(this.activeKeyId)!;
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    const packed = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
    return { [ENCRYPTED_MARKER]: `${FORMAT_VERSION}:${this.activeKeyId}:${packed}` };
  }

  /** Decrypts a value produced by encrypt() with the same context; throws on any tampering. */
  decrypt(value: EncryptedValue, context: string): unknown {
    const { keyId, packed } = parseEncrypted(value);
    const key = this.#keys.get(keyId);
    if (!key) throw new SecretDecryptionError(`the secret was encrypted with key "${keyId}", which is not configured`);
    if (packed.length < IV_LENGTH + TAG_LENGTH) throw new SecretDecryptionError('the encrypted value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, packed.subarray(0, IV_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(packed.subarray(packed.length - TAG_LENGTH));
    let plaintext: string;
    try {
      plaintext = Buffer.concat([
        decipher.update(packed.subarray(IV_LENGTH, packed.length - TAG_LENGTH)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretDecryptionError(
        'the encrypted value does not authenticate (wrong key, wrong object, or tampered)',
      );
    }
    return JSON.parse(plaintext) as unknown;
  }

  /** The key id a value was encrypted with (for rotation: anything not under the active key). */
  keyIdOf(value: EncryptedValue): string {
    return parseEncrypted(value).keyId;
  }

  /** Re-encrypts under the active key; returns the value unchanged when it already is. */
  reencrypt(value: EncryptedValue, context: string): { value: EncryptedValue; changed: boolean } {
    if (this.keyIdOf(value) === this.activeKeyId) return { value, changed: false };
    return { value: this.encrypt(this.decrypt(value, context), context), changed: true };
  }
}

export class SecretDecryptionError extends Error {
  override name = 'SecretDecryptionError';
}

function parseEncrypted(value: EncryptedValue): { keyId: string; packed: Buffer } {
  const text = value[ENCRYPTED_MARKER];
  const parts = typeof text === 'string' ? text.split(':') : [];
  if (parts.length !== 3 || parts[0] !== FORMAT_VERSION || !KEY_ID.test(parts[1]!)) {
    throw new SecretDecryptionError(`not an encrypted value of format ${FORMAT_VERSION}:<keyId>:<base64>`);
  }
  return { keyId: parts[1]!, packed: Buffer.from(parts[2]!, 'base64') };
}
