import { request, type Agent } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { AddressGuard, BlockedAddressError } from './address-guard.ts';
import { guardedAgents, guardedConnect, guardedSocket } from './connect-guard.ts';

// The shared guard for clients that open their own connections, against a real loopback listener
// that counts who connects.

let server: Server;
let port: number;
const accepted: Socket[] = [];
beforeAll(async () => {
  server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const refusal = (socket: Socket): Promise<unknown> =>
  new Promise((resolve) => {
    socket.once('error', resolve);
    socket.once('connect', () => resolve('connected'));
  });

test('a guarded socket refuses internal literals, names and local socket paths without connecting', async () => {
  const guard = new AddressGuard();
  const before = accepted.length;
  for (const host of ['127.0.0.1', 'localhost', '::ffff:127.0.0.1', '[::1]']) {
    const socket = guardedSocket(guard);
    const outcome = refusal(socket);
    socket.connect(port, host);
    expect(await outcome).toBeInstanceOf(BlockedAddressError);
  }
  const local = guardedSocket(guard);
  const outcome = refusal(local);
  local.connect('/var/run/postgresql/.s.PGSQL.5432' as unknown as number);
  expect(await outcome).toBeInstanceOf(BlockedAddressError);
  expect(accepted.length).toBe(before);
});

test('an allowed address connects', async () => {
  const socket = await guardedConnect(new AddressGuard({ allow: ['127.0.0.1'] }), 'localhost', port, 5_000);
  socket.destroy();
});

test('guarded agents refuse internal peers for HTTP libraries', async () => {
  const agents = guardedAgents(new AddressGuard());
  const before = accepted.length;
  for (const host of ['127.0.0.1', 'localhost']) {
    const error = await fetchWith(agents.forUrl(`http://${host}:${port}/`), host);
    expect(error).toBeInstanceOf(BlockedAddressError);
  }
  expect(accepted.length).toBe(before);
  agents.http.destroy();
  agents.https.destroy();
});

function fetchWith(agent: Agent, host: string): Promise<unknown> {
  return new Promise((resolve) => {
    const outgoing = request({ host, port, path: '/', agent }, () => resolve('answered'));
    outgoing.once('error', resolve);
    outgoing.end();
  });
}
