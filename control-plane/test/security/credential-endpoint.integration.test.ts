import { expectProblem, startHarness, type Harness } from '../harness.ts';

// Finding 6: stored credentials are write-only, so an editor cannot read them; moving only the
// endpoint they are sent to (a webhook URL, a connector's base URL) would let the editor receive
// them anyway. Such a change is refused unless the credentials are sent again with it.

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

test("a webhook's URL cannot move to another host while keeping its stored secret", async () => {
  const created = await h.api('POST', '/api/v1/destinations', {
    name: 'hook',
    type: 'webhook',
    config: { url: 'https://hooks.example.com/muxly' },
    credentials: { signingSecret: 'a-stored-signing-secret' },
  });
  expect(created.status).toBe(201);
  const etag = created.headers.get('etag')!;
  const moved = expectProblem(
    await h.api(
      'PATCH',
      `/api/v1/destinations/${created.body.id}`,
      { config: { url: 'https://attacker.example.net/collect' } },
      { 'if-match': etag },
    ),
    422,
  );
  expect(moved.detail).toContain('send the credentials again');
  expect(moved.errors).toEqual([expect.objectContaining({ pointer: '/config/url' })]);
  const stored = await h.api('GET', `/api/v1/destinations/${created.body.id}`);
  expect([stored.body.version, stored.body.config.url]).toEqual([
    created.body.version,
    'https://hooks.example.com/muxly',
  ]);

  // Another path on the same host keeps the secret where it was: allowed.
  const samePlace = await h.api(
    'PATCH',
    `/api/v1/destinations/${created.body.id}`,
    { config: { url: 'https://hooks.example.com/muxly/v2' } },
    { 'if-match': etag },
  );
  expect(samePlace.status).toBe(200);
  // With the credential sent again, the move is the editor's own secret going where they say.
  const withSecret = await h.api(
    'PATCH',
    `/api/v1/destinations/${created.body.id}`,
    { config: { url: 'https://elsewhere.example.net/hook' }, credentials: { signingSecret: 'a-new-signing-secret' } },
    { 'if-match': samePlace.headers.get('etag')! },
  );
  expect(withSecret.status).toBe(200);
  expect(withSecret.body.config.url).toBe('https://elsewhere.example.net/hook');
});

test("a connector's base URL cannot move while keeping its stored token", async () => {
  const created = await h.api('POST', '/api/v1/connectors', {
    name: 'api',
    type: 'custom',
    config: { baseUrl: 'https://api.example.com' },
    credentials: { token: 'stored-api-token' },
  });
  expect(created.status).toBe(201);
  const moved = expectProblem(
    await h.api(
      'PATCH',
      `/api/v1/connectors/${created.body.id}`,
      { config: { baseUrl: 'http://api.example.com:8080' } },
      { 'if-match': created.headers.get('etag')! },
    ),
    422,
  );
  expect(moved.errors).toEqual([expect.objectContaining({ pointer: '/config/baseUrl' })]);
  const stored = await h.api('GET', `/api/v1/connectors/${created.body.id}`);
  expect(stored.body.config.baseUrl).toBe('https://api.example.com');
});
