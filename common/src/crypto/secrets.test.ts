import { randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors.ts';
import { DEVELOPMENT_KEY_ID, isEncryptedValue, SecretDecryptionError, SecretKeyring } from './secrets.ts';

const newKey = () => randomBytes(32).toString('base64');

describe('SecretKeyring', () => {
  it('round-trips a JSON value bound to its context', () => {
    const keyring = new SecretKeyring({ keys: [{ id: 'k1', key: newKey() }] });
    const encrypted = keyring.encrypt({ token: 'xoxb-1' }, 'destination/slack');
    expect(isEncryptedValue(encrypted)).toBe(true);
    expect(encrypted.$encrypted).toMatch(/^v1:k1:[A-Za-z0-9+/=]+$/);
    expect(JSON.stringify(encrypted)).not.toContain('xoxb');
    expect(keyring.decrypt(encrypted, 'destination/slack')).toEqual({ token: 'xoxb-1' });
  });

  it('refuses a ciphertext moved to another object or tampered with', () => {
    const keyring = new SecretKeyring({ keys: [{ id: 'k1', key: newKey() }] });
    const encrypted = keyring.encrypt('s3cret', 'connector/a');
    expect(() => keyring.decrypt(encrypted, 'connector/b')).toThrow(SecretDecryptionError);
    const packed = Buffer.from(encrypted.$encrypted.split(':')[2]!, 'base64');
    packed[14] = packed[14]! ^ 1;
    expect(() => keyring.decrypt({ $encrypted: `v1:k1:${packed.toString('base64')}` }, 'connector/a')).toThrow(
      /does not authenticate/,
    );
    expect(() => keyring.decrypt({ $encrypted: 'v2:k1:AAAA' }, 'connector/a')).toThrow(/format v1/);
  });

  it('decrypts old keys and re-encrypts under the active one (rotation)', () => {
    const old = { id: 'k1', key: newKey() };
    const before = new SecretKeyring({ keys: [old] });
    const encrypted = before.encrypt({ password: 'p' }, 'destination/db');
    const after = new SecretKeyring({ keys: [old, { id: 'k2', key: newKey() }], activeKeyId: 'k2' });
    const { value, changed } = after.reencrypt(encrypted, 'destination/db');
    expect(changed).toBe(true);
    expect(after.keyIdOf(value)).toBe('k2');
    expect(after.decrypt(value, 'destination/db')).toEqual({ password: 'p' });
    expect(after.reencrypt(value, 'destination/db').changed).toBe(false);
    const withoutOld = new SecretKeyring({ keys: [{ id: 'k3', key: newKey() }] });
    expect(() => withoutOld.decrypt(encrypted, 'destination/db')).toThrow(/key "k1", which is not configured/);
  });

  it('falls back to the development key only when no key is configured', () => {
    const keyring = new SecretKeyring({ keys: [] });
    expect(keyring.usesDevelopmentKey).toBe(true);
    expect(keyring.activeKeyId).toBe(DEVELOPMENT_KEY_ID);
    // Another process with zero configuration (the router) decrypts the same value.
    const value = keyring.encrypt({ a: 1 }, 'x/y');
    expect(new SecretKeyring({ keys: [] }).decrypt(value, 'x/y')).toEqual({ a: 1 });
  });

  it('reports bad key settings by name', () => {
    expect(() => new SecretKeyring({ keys: [{ id: 'k1', key: 'c2hvcnQ=' }] })).toThrow(ConfigurationError);
    expect(() => new SecretKeyring({ keys: [{ id: 'a:b', key: newKey() }] })).toThrow(/keys.0.id/);
    expect(() => new SecretKeyring({ keys: [{ id: 'k1', key: newKey() }], activeKeyId: 'k9' })).toThrow(
      /activeKeyId "k9"/,
    );
  });
});
