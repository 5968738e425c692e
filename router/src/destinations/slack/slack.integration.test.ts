import { type IncomingMessage, type Server } from 'node:http';
import { createAsyncServer } from '../../../../test/support/http.ts';
import { ConfigurationError, PermanentError, RetryableError, ThrottledError } from '@muxly/common';
import { createForTest, testItems } from '../test-context.ts';
import { slackDestination } from './index.ts';

// Peer: a local HTTP server speaking the Slack Web API wire format (https://api.slack.com/web):
// form-encoded POSTs to /api/<method> with a Bearer token, HTTP 200 with {ok:true,…} or
// {ok:false,error:"…"}, and HTTP 429 with Retry-After when rate limited.

const TOKEN = 'xoxb-test-token';
const posted: Record<string, string>[] = [];
let behaviour: (
  call: number,
  form: Record<string, string>,
) => { status?: number; headers?: Record<string, string>; body?: unknown } = () => ({});
let server: Server;
let calls = 0;
let apiUrl: string;

const readForm = async (request: IncomingMessage): Promise<Record<string, string>> => {
  let text = '';
  for await (const chunk of request) text += chunk;
  if ((request.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(text);
  return Object.fromEntries(new URLSearchParams(text));
};

beforeAll(async () => {
  server = createAsyncServer(async (request, response) => {
    const form = await readForm(request);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      response
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
        .end(JSON.stringify(body));
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return reply(200, { ok: false, error: 'invalid_auth' });
    if (request.url === '/api/auth.test')
      return reply(200, {
        ok: true,
        url: 'https://muxly.slack.com/',
        team: 'Muxly',
        user: 'bot',
        team_id: 'T1',
        user_id: 'U1',
      });
    if (request.url !== '/api/chat.postMessage') return reply(200, { ok: false, error: 'unknown_method' });
    const custom = behaviour(++calls, form);
    if (custom.status) return reply(custom.status, custom.body ?? '', custom.headers);
    if (form.channel !== 'C123') return reply(200, { ok: false, error: 'channel_not_found' });
    if ((form.text ?? '').length > 40) return reply(200, { ok: false, error: 'msg_too_long' });
    posted.push(form);
    reply(200, {
      ok: true,
      channel: form.channel,
      ts: `1700000000.${String(posted.length).padStart(6, '0')}`,
      message: { text: form.text, type: 'message' },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  posted.length = 0;
  calls = 0;
  behaviour = () => ({});
});

const config = (overrides: Record<string, unknown> = {}) => ({
  token: TOKEN,
  channel: 'C123',
  text: '{{ $.name }} from {{ $.dimensions.env }} ({{ $.value }} {{ $.unit }})',
  username: 'Muxly',
  slackApiUrl: apiUrl,
  ...overrides,
});

test('posts one templated message per event', async () => {
  const destination = await createForTest(slackDestination, config());
  await destination.healthcheck();
  expect(await destination.send(testItems(3))).toBeUndefined();
  expect(posted.map((form) => form.text)).toEqual([
    'signup from prod (0.5 ms)',
    'signup from dev (1.5 ms)',
    'signup from prod (2.5 ms)',
  ]);
  expect(posted[0]).toMatchObject({ channel: 'C123', username: 'Muxly', unfurl_links: 'false' });
});

test('HTTP 429 becomes a ThrottledError with Retry-After, reported only for messages not yet posted', async () => {
  behaviour = (call) =>
    call === 2 ? { status: 429, headers: { 'retry-after': '7' }, body: { ok: false, error: 'ratelimited' } } : {};
  const destination = await createForTest(slackDestination, config());
  const result = await destination.send(testItems(3));
  expect(posted).toHaveLength(1);
  expect(result?.failures?.map((failure) => failure.index)).toEqual([1]);
  expect(result?.notSent).toEqual([2]);
  const error = result?.failures?.[0]?.error as ThrottledError;
  expect(error).toBeInstanceOf(ThrottledError);
  expect(error.retryAfterMs).toBe(7000);

  behaviour = () => ({ status: 429, headers: { 'retry-after': '3' }, body: { ok: false, error: 'ratelimited' } });
  await expect(destination.send(testItems(1))).rejects.toMatchObject({ name: 'ThrottledError', retryAfterMs: 3000 });
});

test('Slack errors map to the router error classes', async () => {
  const destination = await createForTest(slackDestination, config());
  // msg_too_long: that message alone is permanent; the others are posted.
  const long = testItems(3);
  (long[1]!.event as Record<string, unknown>).name = 'x'.repeat(50);
  const result = await destination.send(long);
  expect(posted).toHaveLength(2);
  expect(result?.failures).toEqual([{ index: 1, error: expect.any(PermanentError) }]);

  behaviour = () => ({ status: 503, body: 'upstream unavailable' });
  await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(RetryableError);
  behaviour = () => ({ status: 200, body: { ok: false, error: 'internal_error' } });
  await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(RetryableError);

  const wrongChannel = await createForTest(slackDestination, config({ channel: 'C999' }));
  behaviour = () => ({});
  await expect(wrongChannel.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError);
  const wrongToken = await createForTest(slackDestination, config({ token: 'xoxb-revoked' }));
  await expect(wrongToken.healthcheck()).rejects.toThrow('invalid_auth');
});

test('an unreachable Slack is retryable; a bad template is refused at create', async () => {
  const destination = await createForTest(slackDestination, config({ slackApiUrl: 'http://127.0.0.1:1/api/' }));
  await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(RetryableError);
  await expect(createForTest(slackDestination, config({ text: 'hi {{ name }}' }))).rejects.toThrow(
    'config.text placeholder "{{ name }}"',
  );
});
