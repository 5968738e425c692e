import { BlockList, isIP } from 'node:net';
import { ConfigurationError } from '../errors.ts';

// Outbound HTTP to user-configured URLs (webhooks, custom API connectors) must not reach the
// machine's own network (docs/security.md): private, loopback, link-local, unique-local,
// multicast and unspecified addresses are refused unless the operator's allow-list names them.
// The check runs on the address actually connected to (see client.ts), not on the URL text.

/** Raised when a URL resolves to an address the guard refuses: the configuration must change. */
export class BlockedAddressError extends ConfigurationError {
  override name = 'BlockedAddressError';
  readonly host: string;
  readonly address: string;
  constructor(host: string, address: string) {
    super(
      `outbound request to ${host} (${address}) refused: private, loopback, link-local and other internal addresses ` +
        'need an allow-list entry (a CIDR or the host name)',
    );
    this.host = host;
    this.address = address;
  }
}

// Ranges that are never the public internet.
const DENIED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", includes the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, includes cloud metadata 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes broadcast
];
const DENIED_V6: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
  ['100::', 64], // discard-only
  ['64:ff9b:1::', 48], // NAT64 for local use: the IPv4 address inside is not at a fixed place
];

const denied = new BlockList();
for (const [network, prefix] of DENIED_V4) denied.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of DENIED_V6) denied.addSubnet(network, prefix, 'ipv6');

/** The 16 bytes of an IPv6 address in any textual form (`::`, a trailing dotted quad, a zone), or undefined. */
function ipv6Bytes(address: string): number[] | undefined {
  const text = address.toLowerCase().replace(/%.*$/, '');
  if (isIP(text) !== 6) return undefined;
  let groups: string[];
  const halves = text.split('::');
  const parts = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const expand = (list: string[]): string[] =>
    list.flatMap((group) => {
      if (!group.includes('.')) return [group];
      // A trailing dotted quad fills the last two groups.
      const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  if (halves.length === 2) {
    const head = expand(parts(halves[0]!));
    const tail = expand(parts(halves[1]!));
    groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  } else groups = expand(parts(text));
  if (groups.length !== 8) return undefined;
  return groups.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 255];
  });
}

const zeros = (bytes: number[], from: number, to: number): boolean => bytes.slice(from, to).every((byte) => byte === 0);
const dotted = (bytes: number[]): string => bytes.join('.');

/**
 * The IPv4 address an IPv6 address stands for, so it is judged as that IPv4 address: IPv4-mapped
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible
 * (`::127.0.0.1`, `::7f00:1`), NAT64 (`64:ff9b::/96`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo
 * (`2001::/32`, the client address inverted in the last 32 bits). A host that routes these
 * prefixes reaches the IPv4 address inside, so a refused IPv4 range stays refused in each form.
 */
export function embeddedIpv4(address: string): string | undefined {
  const bytes = ipv6Bytes(address);
  if (!bytes) return undefined;
  const last = bytes.slice(12, 16);
  const group = (index: number) => (bytes[index * 2]! << 8) | bytes[index * 2 + 1]!;
  // NOTE: `::` and `::1` are IPv6's own unspecified and loopback addresses, judged as IPv6 (so an
  // allow-list entry `::1` names them); every other address of ::/96 is IPv4-compatible.
  if (zeros(bytes, 0, 12)) return zeros(bytes, 12, 15) && bytes[15]! <= 1 ? undefined : dotted(last);
  if (zeros(bytes, 0, 10) && group(5) === 0xffff) return dotted(last);
  if (zeros(bytes, 0, 8) && group(4) === 0xffff && group(5) === 0) return dotted(last);
  if (group(0) === 0x64 && group(1) === 0xff9b && zeros(bytes, 4, 12)) return dotted(last);
  if (group(0) === 0x2002) return dotted(bytes.slice(2, 6));
  if (group(0) === 0x2001 && group(1) === 0) return dotted(last.map((byte) => byte ^ 0xff));
  return undefined;
}

/** True for addresses outside the public internet (before any allow-list applies). */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return denied.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return denied.check(v4, 'ipv4');
    return denied.check(address, 'ipv6');
  }
  // Not an IP address at all: refuse rather than guess.
  return true;
}

export interface AddressGuardOptions {
  /**
   * Entries that lift the refusal: CIDRs (`10.0.0.0/8`, `::1/128`), single addresses, host names
   * (`hooks.internal`) or host-name suffixes (`*.corp.example`).
   */
  allow?: readonly string[];
}

/** Decides, per host name and resolved address, whether an outbound connection may proceed. */
export class AddressGuard {
  readonly #allowedNetworks = new BlockList();
  readonly #allowedHosts = new Set<string>();
  readonly #allowedSuffixes: string[] = [];

  constructor(options: AddressGuardOptions = {}) {
    for (const raw of options.allow ?? []) {
      const entry = raw.trim().toLowerCase();
      if (entry === '') continue;
      const [network, prefixText] = entry.split('/');
      const family = isIP(network ?? '');
      if (family !== 0) {
        const type = family === 4 ? 'ipv4' : 'ipv6';
        const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
          throw new ConfigurationError(`invalid allow-list entry "${raw}": bad prefix length`);
        }
        this.#allowedNetworks.addSubnet(network!, prefix, type);
        // An allowed IPv4 range also covers its IPv4-mapped IPv6 form (judged as IPv4 below).
      } else if (entry.startsWith('*.')) {
        this.#allowedSuffixes.push(entry.slice(1));
      } else if (/^[a-z0-9.-]+$/.test(entry) && !entry.includes('/')) {
        this.#allowedHosts.add(entry.replace(/\.$/, ''));
      } else {
        throw new ConfigurationError(`invalid allow-list entry "${raw}": expected a CIDR, an address or a host name`);
      }
    }
  }

  /** True when the allow-list names this host, so any address it resolves to is accepted. */
  hostAllowed(host: string): boolean {
    const name = host.toLowerCase().replace(/\.$/, '');
    if (this.#allowedHosts.has(name)) return true;
    return this.#allowedSuffixes.some((suffix) => name.endsWith(suffix));
  }

  /** True when connecting to `address` (resolved from `host`) is permitted. */
  permits(host: string, address: string): boolean {
    if (this.hostAllowed(host)) return true;
    const family = isIP(address);
    if (family === 0) return false;
    const v4 = family === 6 ? embeddedIpv4(address) : undefined;
    const checked = v4 ?? address;
    const type = v4 !== undefined || family === 4 ? 'ipv4' : 'ipv6';
    if (this.#allowedNetworks.check(checked, type)) return true;
    return !isInternalAddress(address);
  }

  /** Throws BlockedAddressError unless `permits` is true. */
  assert(host: string, address: string): void {
    if (!this.permits(host, address)) throw new BlockedAddressError(host, address);
  }
}

/**
 * The guard's refusal inside an error a client library wrapped (as `cause`, or as `original` in
 * Slack's and axios's errors), so a refused address is reported as the configuration error it is
 * and not retried as a network failure.
 */
export function blockedAddressIn(error: unknown): BlockedAddressError | undefined {
  let current = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    if (current instanceof BlockedAddressError) return current;
    const wrapped = current as { cause?: unknown; original?: unknown };
    current = wrapped.cause ?? wrapped.original;
  }
  return undefined;
}
