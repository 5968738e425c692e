import { SMTPServer } from 'smtp-server';
import { ConfigurationError, PermanentError, RetryableError } from '@muxly/common';
import { createForTest, testItems } from '../test-context.ts';
import { emailDestination } from './index.ts';

// Peer: a real SMTP server (the `smtp-server` library) started here, with password
// authentication and recipient checks, collecting the raw messages it accepts.

interface Received {
  from: string;
  to: string[];
  raw: string;
}
const received: Received[] = [];
let server: SMTPServer;
let port: number;

const header = (raw: string, name: string): string | undefined =>
  new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1]?.trim();
const body = (raw: string): string =>
  raw
    .slice(raw.indexOf('\r\n\r\n') + 4)
    .replace(/=\r\n/g, '')
    .trimEnd();

beforeAll(async () => {
  server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'muxly' && auth.password === 'secret') return callback(null, { user: 'muxly' });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('busy@'))
        return callback(Object.assign(new Error('Mailbox busy, try later'), { responseCode: 451 }));
      if (address.address.startsWith('nobody@'))
        return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => (received.length = 0));

const config = (overrides: Record<string, unknown> = {}) => ({
  smtp: { host: '127.0.0.1', port, user: 'muxly', password: 'secret', timeoutMs: 5000 },
  from: 'Muxly <alerts@muxly.example>',
  to: ['ops@muxly.example'],
  subject: '[{{ $.dimensions.env }}] {{ $.name }}',
  text: 'Event {{ $.id }} value {{ $.value }}',
  ...overrides,
});

test('sends one email per event with templated subject and body, and a Message-ID from the event id', async () => {
  const destination = await createForTest(emailDestination, config());
  try {
    await destination.healthcheck();
    expect(await destination.send(testItems(2))).toBeUndefined();
    expect(received.map((mail) => [mail.from, mail.to, header(mail.raw, 'Subject'), body(mail.raw)])).toEqual([
      ['alerts@muxly.example', ['ops@muxly.example'], '[prod] signup', 'Event evt-0-0 value 0.5'],
      ['alerts@muxly.example', ['ops@muxly.example'], '[dev] signup', 'Event evt-0-1 value 1.5'],
    ]);
    // The same event redelivered carries the same Message-ID, so receivers can recognise it.
    await destination.send(testItems(1));
    expect(header(received[2]!.raw, 'Message-ID')).toBe(header(received[0]!.raw, 'Message-ID'));
  } finally {
    await destination.close();
  }
});

test('digest mode sends one email per batch', async () => {
  const destination = await createForTest(
    emailDestination,
    config({ digest: { subject: '{{ $.count }} events, first {{ $.first.id }}' } }),
  );
  try {
    await destination.send(testItems(3));
    expect(received).toHaveLength(1);
    expect(header(received[0]!.raw, 'Subject')).toBe('3 events, first evt-0-0');
    expect(body(received[0]!.raw).split('\r\n\r\n---\r\n\r\n')).toEqual([
      'Event evt-0-0 value 0.5',
      'Event evt-0-1 value 1.5',
      'Event evt-0-2 value 2.5',
    ]);
  } finally {
    await destination.close();
  }
});

test('SMTP replies map to the router error classes', async () => {
  const busy = await createForTest(emailDestination, config({ to: ['busy@muxly.example'] }));
  const unknown = await createForTest(emailDestination, config({ to: ['nobody@muxly.example'] }));
  const badPassword = await createForTest(
    emailDestination,
    config({ smtp: { host: '127.0.0.1', port, user: 'muxly', password: 'wrong', timeoutMs: 5000 } }),
  );
  const unreachable = await createForTest(
    emailDestination,
    config({ smtp: { host: '127.0.0.1', port: 1, timeoutMs: 2000 } }),
  );
  try {
    await expect(busy.send(testItems(1))).rejects.toBeInstanceOf(RetryableError); // 451
    const refused = await unknown.send(testItems(2)); // 550: each message dead-lettered alone
    expect(refused?.failures?.map((failure) => [failure.index, failure.error instanceof PermanentError])).toEqual([
      [0, true],
      [1, true],
    ]);
    await expect(badPassword.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError); // 535
    await expect(badPassword.healthcheck()).rejects.toBeInstanceOf(ConfigurationError);
    await expect(unreachable.send(testItems(1))).rejects.toBeInstanceOf(RetryableError);
    expect(received).toHaveLength(0);
  } finally {
    await Promise.all([busy, unknown, badPassword, unreachable].map((destination) => destination.close()));
  }
});

test('invalid templates and half-set credentials are refused at create', async () => {
  await expect(createForTest(emailDestination, config({ subject: '{{ $.a' }))).rejects.toThrow(
    'config.subject: unclosed "{{"',
  );
  await expect(
    createForTest(emailDestination, config({ smtp: { host: '127.0.0.1', port, user: 'muxly' } })),
  ).rejects.toThrow('set both user and password');
});
