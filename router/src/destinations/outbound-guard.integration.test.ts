import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { ConfigurationError } from '@muxly/common';
import { waitFor } from '../../../test/support/services.ts';
import { createDestination } from './create.ts';
import type { DestinationContext } from './destination.ts';
import { testContext, testItems } from './test-context.ts';

// Every destination that opens its own connections (database drivers, SMTP, the S3 and Slack
// clients) goes through the operator's outbound address guard: with an empty
// outbound.allowAddresses (production mode's default), an editor's config pointing at a loopback
// service is refused before any connection, and a refused address is a configuration error.

let server: Server;
let port: number;
const connections: Socket[] = [];

beforeAll(async () => {
  // A service on loopback that counts who connects (it never answers).
  server = createServer((socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of connections) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const strict = (): DestinationContext => ({
  ...testContext(),
  outbound: { fileBaseDirectory: tmpdir(), allowAddresses: [] },
});

// PORT stands for the listening service's port (known once it listens).
const configs = (): [string, string, Record<string, unknown>][] => [
  [
    'database (PostgreSQL)',
    'database',
    {
      connectionString: `postgres://muxly:secret@127.0.0.1:PORT/muxly`,
      table: 'events',
      columns: { name: '$.name' },
    },
  ],
  [
    'database (PostgreSQL, by name)',
    'database',
    {
      connectionString: `postgres://muxly:secret@localhost:PORT/muxly`,
      table: 'events',
      columns: { name: '$.name' },
    },
  ],
  [
    'database (PostgreSQL, IPv4-compatible IPv6)',
    'database',
    {
      connectionString: `postgres://muxly:secret@[::7f00:1]:PORT/muxly`,
      table: 'events',
      columns: { name: '$.name' },
    },
  ],
  [
    'database (MySQL)',
    'database',
    { connectionString: `mysql://root@127.0.0.1:PORT/muxly`, table: 'events', columns: { name: '$.name' } },
  ],
  [
    'email (SMTP)',
    'email',
    {
      smtp: { host: '127.0.0.1', port: 'PORT_NUMBER', timeoutMs: 5_000 },
      from: 'muxly@example.com',
      to: ['ops@example.com'],
      subject: 'x',
      text: 'y',
    },
  ],
  [
    's3 (endpoint)',
    's3',
    {
      bucket: 'muxly-events',
      endpoint: `http://127.0.0.1:PORT`,
      forcePathStyle: true,
      accessKeyId: 'a',
      secretAccessKey: 'b',
    },
  ],
  [
    's3 (endpoint by name)',
    's3',
    {
      bucket: 'muxly-events',
      endpoint: `http://localhost:PORT`,
      forcePathStyle: true,
      accessKeyId: 'a',
      secretAccessKey: 'b',
    },
  ],
  [
    'slack (API URL)',
    'slack',
    { token: 'xoxb-1', channel: 'C1', text: 'x', slackApiUrl: `http://127.0.0.1:PORT/api/` },
  ],
  ['webhook', 'webhook', { url: `http://localhost:PORT/hook` }],
];

test.each(configs())('%s: refused before connecting, as a configuration error', async (_name, type, template) => {
  const config = JSON.parse(
    JSON.stringify(template).replaceAll('"PORT_NUMBER"', String(port)).replaceAll('PORT', String(port)),
  ) as Record<string, unknown>;
  const before = connections.length;
  const { instance } = await createDestination({ id: 'attack', type, enabled: true, config }, strict());
  try {
    const checked = await instance.healthcheck().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(checked).toBeInstanceOf(ConfigurationError);
    expect(String(checked)).toMatch(/refused/);
    // A delivery is refused the same way: nothing is sent, the event is not retried as an outage.
    const sent = await Promise.resolve(instance.send(testItems(1))).then(
      (result) => result?.failures?.[0]?.error,
      (error: unknown) => error,
    );
    expect(sent).toBeInstanceOf(ConfigurationError);
  } finally {
    await instance.close();
  }
  expect(connections.length).toBe(before);
});

test('with the address in outbound.allowAddresses the same config connects', async () => {
  const before = connections.length;
  const context = { ...strict(), outbound: { fileBaseDirectory: tmpdir(), allowAddresses: ['127.0.0.1'] } };
  const { instance } = await createDestination(
    {
      id: 'allowed',
      type: 'database',
      enabled: true,
      config: {
        connectionString: `postgres://muxly:secret@127.0.0.1:${port}/muxly`,
        table: 'events',
        columns: { name: '$.name' },
        poolSize: 1,
      },
    },
    context,
  );
  // The silent peer never answers the startup message; the connection itself is what counts.
  const pending = instance.healthcheck().catch(() => undefined);
  try {
    await waitFor('a connection to the allowed address', async () => connections.length > before);
  } finally {
    for (const socket of connections.slice(before)) socket.destroy();
    await pending;
    await instance.close();
  }
});
