import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

// Databases that no destination configured through the API may write to: above all the control
// plane's own PostgreSQL, where a row in `api_keys` or `user_roles` is a credential. An editor
// who could point a database destination there would make themselves admin. The comparison is
// by what the connection reaches (resolved addresses, port, database), not by how it is spelt:
// `localhost`, `127.0.0.1`, `[::1]` and the machine's own interface addresses are one host.

export interface DatabaseEndpoint {
  server: 'postgres' | 'mysql';
  host: string;
  port: number;
  /** PostgreSQL: the database (the user name when absent, as libpq does). MySQL: unused. */
  database: string;
}

const SERVERS: Record<string, DatabaseEndpoint['server']> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
};
const DEFAULT_PORTS = { postgres: 5432, mysql: 3306 } as const;

/** The endpoint a connection string reaches, or undefined when it is not a database URL. */
export function databaseEndpointOf(connectionString: string): DatabaseEndpoint | undefined {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return undefined;
  }
  const server = SERVERS[url.protocol];
  if (!server || !url.hostname) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[server];
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const database = path || decodeURIComponent(url.username) || 'postgres';
  return { server, host, port, database: database.toLowerCase() };
}

const THIS_MACHINE = 'this machine';

/** An IPv4-mapped IPv6 address as its IPv4 form (`::ffff:7f00:1` and `::ffff:127.0.0.1` → `127.0.0.1`). */
function plainAddress(address: string): string {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(?:([0-9.]+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/.exec(lower);
  if (!mapped) return lower;
  if (mapped[1]) return mapped[1];
  const high = parseInt(mapped[2]!, 16);
  const low = parseInt(mapped[3]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Loopback, the unspecified address (which Linux connects to locally) or one of this machine's interfaces. */
function isThisMachine(address: string): boolean {
  const plain = plainAddress(address);
  if (plain === '::1' || plain === '::' || plain === '0.0.0.0' || plain.startsWith('127.')) return true;
  return Object.values(networkInterfaces()).some((entries) =>
    (entries ?? []).some((entry) => plainAddress(entry.address) === plain),
  );
}

/** The hosts an endpoint's name reaches: its resolved addresses, this machine's folded into one. */
async function hostsOf(host: string): Promise<Set<string>> {
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
  return new Set(addresses.map((address) => (isThisMachine(address) ? THIS_MACHINE : plainAddress(address))));
}

export class ForbiddenDatabases {
  readonly #endpoints: DatabaseEndpoint[];

  /** `connectionStrings`: the databases to protect (credentials in them are ignored). */
  constructor(connectionStrings: readonly string[]) {
    this.#endpoints = connectionStrings.flatMap((value) => {
      const endpoint = databaseEndpointOf(value);
      return endpoint ? [endpoint] : [];
    });
  }

  /**
   * Why a connection string may not be used (it reaches a protected database), or undefined.
   * A host name that does not resolve is not refused here: the connection will fail anyway.
   */
  async refusal(connectionString: string): Promise<string | undefined> {
    const target = databaseEndpointOf(connectionString);
    if (!target) return undefined;
    const candidates = this.#endpoints.filter(
      (endpoint) =>
        endpoint.port === target.port &&
        // NOTE: a MySQL connection reaches every database of its server (a table name can carry
        // its database), so for MySQL the server is protected whole.
        (target.server === 'mysql' || endpoint.server === 'mysql' || endpoint.database === target.database),
    );
    if (candidates.length === 0) return undefined;
    const targetHosts = await hostsOf(target.host).catch(() => new Set<string>());
    for (const endpoint of candidates) {
      const hosts = await hostsOf(endpoint.host).catch(() => new Set([endpoint.host.toLowerCase()]));
      if ([...targetHosts].some((host) => hosts.has(host)))
        return `reaches ${target.host}:${target.port}/${target.database}, a database Muxly protects (the control plane's own database or one listed in router.forbiddenDatabases); destinations may not write there`;
    }
    return undefined;
  }
}

/**
 * The databases the settings protect: the control plane's own (`controlPlane.database.url`,
 * always) and `router.forbiddenDatabases`, for a router or control plane configured apart.
 */
export function forbiddenDatabasesOf(settings: {
  controlPlane: { database: { url: string } };
  router: { forbiddenDatabases: string[] };
}): ForbiddenDatabases {
  return new ForbiddenDatabases([settings.controlPlane.database.url, ...settings.router.forbiddenDatabases]);
}
