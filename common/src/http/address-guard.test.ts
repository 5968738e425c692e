import { AddressGuard, embeddedIpv4, isInternalAddress } from './address-guard.ts';
import { errorForStatus, parseRetryAfter } from './status-errors.ts';
import { PermanentError, RetryableError, ThrottledError } from '../errors.ts';

describe('isInternalAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['::', true],
    ['::1', true],
    ['fe80::1', true],
    ['fd12:3456::1', true],
    ['fc00::1', true],
    ['ff02::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:10.0.0.1', true],
    ['64:ff9b::a9fe:a9fe', true],
    // IPv4-compatible, in every spelling: judged as the IPv4 address inside.
    ['::7f00:1', true],
    ['::127.0.0.1', true],
    ['0:0:0:0:0:0:7f00:1', true],
    ['0000:0000:0000:0000:0000:0000:7f00:0001', true],
    ['::a9fe:a9fe', true],
    ['::0.0.0.2', true],
    ['::ffff:0:7f00:1', true], // IPv4-translated
    ['0:0:0:0:0:ffff:127.0.0.1', true],
    ['64:ff9b::127.0.0.1', true],
    ['64:ff9b:1::a00:1', true], // local-use NAT64
    ['2002:7f00:1::', true], // 6to4 of 127.0.0.1
    ['2002:a9fe:a9fe::1', true], // 6to4 of the metadata address
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', true], // Teredo, client 127.0.0.1 (inverted)
    ['::808:808', false], // IPv4-compatible 8.8.8.8
    ['64:ff9b::808:808', false],
    ['2002:808:808::1', false],
    ['2001:db8::1', false],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['93.184.216.34', false],
    ['2606:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['not-an-address', true],
  ])('%s -> %s', (address, expected) => {
    expect(isInternalAddress(address)).toBe(expected);
  });

  it('reads IPv4 embedded in IPv6', () => {
    expect(embeddedIpv4('::ffff:c0a8:0101')).toBe('192.168.1.1');
    expect(embeddedIpv4('::7f00:1')).toBe('127.0.0.1');
    expect(embeddedIpv4('::127.0.0.1')).toBe('127.0.0.1');
    expect(embeddedIpv4('64:ff9b::a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedIpv4('2002:c0a8:0101::')).toBe('192.168.1.1');
    expect(embeddedIpv4('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toBe('192.0.2.45');
    expect(embeddedIpv4('2001:db8::1')).toBeUndefined();
    // IPv6's own unspecified and loopback addresses stay IPv6.
    expect(embeddedIpv4('::1')).toBeUndefined();
    expect(embeddedIpv4('::')).toBeUndefined();
    expect(embeddedIpv4('not-an-address')).toBeUndefined();
  });

  it('an allowed IPv4 range covers its IPv6 embeddings, a refused one stays refused in each', () => {
    const guard = new AddressGuard({ allow: ['127.0.0.0/8'] });
    for (const address of ['::7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::']) {
      expect(guard.permits('x', address)).toBe(true);
    }
    for (const address of ['::a9fe:a9fe', '::169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::']) {
      expect(guard.permits('x', address)).toBe(false);
    }
  });
});

describe('AddressGuard', () => {
  it('refuses internal addresses without an allow-list', () => {
    const guard = new AddressGuard();
    expect(guard.permits('example.com', '93.184.216.34')).toBe(true);
    expect(guard.permits('evil.example', '127.0.0.1')).toBe(false);
    expect(() => guard.assert('evil.example', '10.0.0.5')).toThrow(/refused/);
  });

  it('allows CIDRs, addresses, host names and suffixes named by the allow-list', () => {
    const guard = new AddressGuard({
      allow: ['127.0.0.0/8', 'fd00::/8', '10.9.9.9', 'hooks.internal', '*.corp.example'],
    });
    expect(guard.permits('localhost', '127.0.0.1')).toBe(true);
    expect(guard.permits('x', '::ffff:127.0.0.1')).toBe(true);
    expect(guard.permits('x', 'fd00::5')).toBe(true);
    expect(guard.permits('x', '10.9.9.9')).toBe(true);
    expect(guard.permits('x', '10.9.9.10')).toBe(false);
    expect(guard.permits('HOOKS.internal', '192.168.0.7')).toBe(true);
    expect(guard.permits('a.b.corp.example', '10.0.0.1')).toBe(true);
    expect(guard.permits('corp.example.evil', '10.0.0.1')).toBe(false);
    expect(guard.permits('x', '::1')).toBe(false);
  });

  it('rejects malformed allow-list entries', () => {
    expect(() => new AddressGuard({ allow: ['10.0.0.0/33'] })).toThrow(/bad prefix/);
    expect(() => new AddressGuard({ allow: ['http://x/'] })).toThrow(/invalid allow-list entry/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['120', 120_000],
    ['0', 0],
    ['1.5', 1500],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
  ])('%s -> %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('errorForStatus', () => {
  it.each([
    [408, RetryableError],
    [429, ThrottledError],
    [500, RetryableError],
    [503, RetryableError],
    [400, PermanentError],
    [401, PermanentError],
    [404, PermanentError],
    [302, PermanentError],
  ])('%i -> %p', (status, errorClass) => {
    expect(errorForStatus(status, {})).toBeInstanceOf(errorClass);
  });

  it('carries Retry-After on 429 and 503', () => {
    expect((errorForStatus(429, { 'retry-after': '7' }) as ThrottledError).retryAfterMs).toBe(7000);
    expect((errorForStatus(503, { 'retry-after': '2' }) as RetryableError).retryAfterMs).toBe(2000);
    expect((errorForStatus(404, {}) as PermanentError).status).toBe(404);
  });
});
