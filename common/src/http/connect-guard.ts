import http from 'node:http';
import https from 'node:https';
import { isIP, Socket, type NetConnectOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import { AddressGuard, BlockedAddressError } from './address-guard.ts';
import { guardedLookup } from './client.ts';

// The outbound address guard for clients that open their own connections: database drivers
// (pg, mysql2), SMTP (nodemailer), and the HTTP libraries of the AWS SDK, Slack and the
// Pushgateway. NOTE: as in client.ts, the check runs in the socket's own DNS lookup, on the
// address the socket then connects to, so a name that answers a public address to a first lookup
// and 127.0.0.1 to the next (DNS rebinding) cannot slip through. Address literals skip the lookup
// in Node, so they are checked before connecting.

/** The guard of an outbound policy: internal addresses only where `allowAddresses` names them. */
export function outboundGuard(policy: { allowAddresses: readonly string[] }): AddressGuard {
  return new AddressGuard({ allow: policy.allowAddresses });
}

/** A socket that fails (asynchronously, as a connection error would) with `error`. */
function failedSocket(error: Error): Socket {
  const socket = new Socket();
  process.nextTick(() => socket.destroy(error));
  return socket;
}

/** The refusal for `host`, when it is an address literal the guard refuses; undefined otherwise. */
function refusedLiteral(guard: AddressGuard, host: string): BlockedAddressError | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 && !guard.permits(bare, bare) ? new BlockedAddressError(bare, bare) : undefined;
}

/**
 * A socket whose `connect(port, host)` goes only to addresses the guard permits, for drivers that
 * accept a socket factory (pg's and mysql2's `stream`). A local socket path is refused: it is the
 * machine's own service, which the guard exists to keep editors away from.
 */
export function guardedSocket(guard: AddressGuard): Socket {
  const socket = new Socket();
  const connect = socket.connect.bind(socket) as (options: NetConnectOpts, listener?: () => void) => Socket;
  socket.connect = ((...args: unknown[]) => {
    const [port, host, listener] = args as [unknown, unknown, unknown];
    if ((typeof port !== 'number' && typeof port !== 'string') || typeof host !== 'string' || host.startsWith('/')) {
      const target = typeof port === 'string' ? port : String(host);
      process.nextTick(() => socket.destroy(new BlockedAddressError(target, 'a local socket')));
      return socket;
    }
    const refused = refusedLiteral(guard, host);
    if (refused) {
      process.nextTick(() => socket.destroy(refused));
      return socket;
    }
    return connect(
      { port: Number(port), host: host.replace(/^\[|\]$/g, ''), lookup: guardedLookup(guard) },
      typeof listener === 'function' ? (listener as () => void) : undefined,
    );
  }) as Socket['connect'];
  return socket;
}

/** Opens a guarded connection to host:port; resolves once connected. */
export function guardedConnect(guard: AddressGuard, host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = guardedSocket(guard);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`)),
    );
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
    socket.connect(port, host);
  });
}

type CreateConnection = (options: NetConnectOpts, callback: (error: Error | null, socket: Duplex) => void) => Duplex;

/**
 * http and https agents whose every connection is checked by the guard, for HTTP libraries that
 * accept an agent (the AWS SDK's request handler, Slack's client, prom-client's Pushgateway).
 */
export function guardedAgents(
  guard: AddressGuard,
  options: http.AgentOptions = {},
): { http: http.Agent; https: https.Agent; forUrl(url: string | URL): http.Agent } {
  const lookup = guardedLookup(guard);
  const guardAgent = <A extends http.Agent>(agent: A): A => {
    const agentWithConnect = agent as unknown as { createConnection: CreateConnection };
    const original = agentWithConnect.createConnection.bind(agent);
    agentWithConnect.createConnection = (connectOptions, callback) => {
      const host = String((connectOptions as { host?: string }).host ?? '');
      const refused = refusedLiteral(guard, host);
      if (refused) return failedSocket(refused);
      return original({ ...connectOptions, lookup } as NetConnectOpts, callback);
    };
    return agent;
  };
  const agents = {
    http: guardAgent(new http.Agent({ keepAlive: true, ...options })),
    https: guardAgent(new https.Agent({ keepAlive: true, ...options })),
  };
  return { ...agents, forUrl: (url) => (new URL(url).protocol === 'https:' ? agents.https : agents.http) };
}
