import { signWebhook, verifyWebhook } from './signature.ts';

const body = Buffer.from('{"reason":"nightly"}');
const now = 1_800_000_000;
const headers = (
  overrides: Record<string, string | undefined> = {},
  secret = 'current-secret-0123456789',
  timestamp = now,
) => ({
  'muxly-delivery-id': 'dlv_1',
  'muxly-timestamp': String(timestamp),
  'muxly-signature': `v1=${signWebhook(secret, 'dlv_1', timestamp, body)}`,
  ...overrides,
});
const verify = (h: Record<string, string | undefined>, secrets = ['current-secret-0123456789']) =>
  verifyWebhook({ headers: h, body, secrets, nowSeconds: now, toleranceSeconds: 300 });

test('a correctly signed request passes', () => {
  expect(verify(headers())).toEqual({ ok: true, deliveryId: 'dlv_1', timestamp: now });
});

test('the signature covers the body, the timestamp and the delivery id', () => {
  expect(verify(headers({ 'muxly-delivery-id': 'dlv_2' }))).toMatchObject({
    ok: false,
    status: 401,
    type: 'bad-signature',
  });
  expect(
    verifyWebhook({
      headers: headers(),
      body: Buffer.from('{"reason":"other"}'),
      secrets: ['current-secret-0123456789'],
      nowSeconds: now,
      toleranceSeconds: 300,
    }),
  ).toMatchObject({ ok: false, status: 401, type: 'bad-signature' });
  expect(verify(headers({ 'muxly-timestamp': String(now + 1) }))).toMatchObject({
    ok: false,
    status: 401,
    type: 'bad-signature',
  });
});

test.each([
  ['no delivery id', { 'muxly-delivery-id': undefined }],
  ['a delivery id with spaces', { 'muxly-delivery-id': 'a b' }],
  ['no timestamp', { 'muxly-timestamp': undefined }],
  ['a timestamp that is not a number', { 'muxly-timestamp': 'yesterday' }],
  ['no signature', { 'muxly-signature': undefined }],
  ['a signature without the v1= scheme', { 'muxly-signature': 'abc' }],
])('%s is a 400', (_name, overrides) => {
  expect(verify(headers(overrides))).toMatchObject({ ok: false, status: 400, type: 'invalid-webhook' });
});

test('timestamps outside the tolerance window are refused, in both directions', () => {
  expect(verify(headers({}, undefined, now - 301))).toMatchObject({ ok: false, status: 401, type: 'stale-webhook' });
  expect(verify(headers({}, undefined, now + 301))).toMatchObject({ ok: false, status: 401, type: 'stale-webhook' });
  expect(verify(headers({}, undefined, now - 300))).toMatchObject({ ok: true });
});

test('during a rotation either secret passes; a signature list may carry both', () => {
  const secrets = ['new-secret-0123456789abcdef', 'current-secret-0123456789'];
  expect(verify(headers({}, 'current-secret-0123456789'), secrets)).toMatchObject({ ok: true });
  expect(verify(headers({}, 'new-secret-0123456789abcdef'), secrets)).toMatchObject({ ok: true });
  const both = `v1=${signWebhook('unknown-secret-000000000', 'dlv_1', now, body)},v1=${signWebhook('new-secret-0123456789abcdef', 'dlv_1', now, body)}`;
  expect(verify(headers({ 'muxly-signature': both }), secrets)).toMatchObject({ ok: true });
  expect(verify(headers({}, 'unknown-secret-000000000'), secrets)).toMatchObject({
    ok: false,
    status: 401,
    type: 'bad-signature',
  });
});
