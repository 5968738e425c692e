import { randomBytes } from 'node:crypto';
import { createLogger } from '@muxly/common';
import { loadTemplates } from '../../src/templates/sources.ts';
import { expectProblem, type ApiAnswer } from '../harness.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from '../auth/support.ts';

// Finding 6: stored credentials are write-only, so an editor cannot read them; moving only the
// endpoint they are sent to would let the editor receive them anyway. Performed as a signed-in
// editor with the real types: each such change is refused unless the credentials are sent again
// with it, and the stored object stays as it was.

const logger = createLogger({ service: 'credential-endpoint-test', level: 'error', silent: true });
let harness: AuthHarness;
let editor: string;

beforeAll(async () => {
  harness = await startAuthHarness({}, { templates: await loadTemplates(logger), settings: { mode: 'production' } });
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  const username = `editor-${randomBytes(3).toString('hex')}`;
  const password = `${username}-password-123`;
  const created = await harness.api('POST', '/api/v1/users', {
    token: admin,
    body: { username, password, roles: ['editor'] },
  });
  expect(created.status).toBe(201);
  editor = (await harness.login(username, password)).accessToken;
});
afterAll(async () => harness?.close());

const asEditor = (method: string, path: string, body?: unknown, etag?: string): Promise<ApiAnswer> =>
  harness.api(method, path, { token: editor, body, ...(etag ? { headers: { 'if-match': etag } } : {}) });

type Case = {
  kind: 'destinations' | 'connectors';
  body: { type: string; config: Record<string, unknown>; credentials: Record<string, unknown> };
  /** The config fields of a change that sends the stored credentials to a host the editor chose. */
  moved: Record<string, unknown>;
  pointer: string;
  /** A change that keeps the credentials' host (another path): allowed. */
  samePlace?: Record<string, unknown>;
};

const cases: [string, Case][] = [
  [
    'a webhook URL (its signing secret)',
    {
      kind: 'destinations',
      body: {
        type: 'webhook',
        config: { url: 'https://hooks.example.com/muxly' },
        credentials: { secret: 'a-stored-signing-secret' },
      },
      moved: { url: 'https://attacker.example.net/collect' },
      pointer: '/config/url',
      samePlace: { url: 'https://hooks.example.com/muxly/v2' },
    },
  ],
  [
    'the Slack API URL (the bot token)',
    {
      kind: 'destinations',
      body: {
        type: 'slack',
        config: { channel: 'C1', text: 'signup' },
        credentials: { token: 'xoxb-stored-bot-token' },
      },
      moved: { channel: 'C1', text: 'signup', slackApiUrl: 'https://attacker.example.net/api/' },
      pointer: '/config/slackApiUrl',
    },
  ],
  [
    'an S3 endpoint (the secret access key)',
    {
      kind: 'destinations',
      body: {
        type: 's3',
        config: { bucket: 'muxly-events', endpoint: 'https://s3.example.com', accessKeyId: 'AKIASTORED' },
        credentials: { secretAccessKey: 'stored-secret-access-key' },
      },
      moved: { bucket: 'muxly-events', endpoint: 'http://attacker.example.net:9000', accessKeyId: 'AKIASTORED' },
      pointer: '/config/endpoint',
    },
  ],
  [
    "HubSpot's API base URL (the access token)",
    {
      kind: 'connectors',
      body: {
        type: 'hubspot',
        config: { objectType: 'contacts' },
        credentials: { accessToken: 'pat-na1-stored-token' },
      },
      moved: { objectType: 'contacts', apiBaseUrl: 'https://attacker.example.net' },
      pointer: '/config/apiBaseUrl',
    },
  ],
  [
    "a custom HTTP API's URL (its bearer token)",
    {
      kind: 'connectors',
      body: {
        type: 'custom',
        config: {
          url: 'https://api.example.com/v1/items',
          auth: { type: 'bearer' },
          recordSelector: '$.data[*]',
          mapping: { name: 'x', idPath: '$.id' },
        },
        credentials: { token: 'stored-api-token' },
      },
      moved: {
        url: 'http://api.example.com:8080/v1/items',
        auth: { type: 'bearer' },
        recordSelector: '$.data[*]',
        mapping: { name: 'x', idPath: '$.id' },
      },
      pointer: '/config/url',
      samePlace: {
        url: 'https://api.example.com/v2/items',
        auth: { type: 'bearer' },
        recordSelector: '$.data[*]',
        mapping: { name: 'x', idPath: '$.id' },
      },
    },
  ],
  [
    "a custom HTTP API's OAuth token URL (its client secret)",
    {
      kind: 'connectors',
      body: {
        type: 'custom',
        config: {
          url: 'https://api.example.com/v1/items',
          auth: {
            type: 'oauth2ClientCredentials',
            tokenUrl: 'https://auth.example.com/token',
            clientId: 'muxly',
            clientAuthentication: 'body',
          },
          recordSelector: '$.data[*]',
          mapping: { name: 'x', idPath: '$.id' },
        },
        credentials: { clientSecret: 'stored-client-secret' },
      },
      moved: {
        url: 'https://api.example.com/v1/items',
        auth: {
          type: 'oauth2ClientCredentials',
          tokenUrl: 'https://attacker.example.net/token',
          clientId: 'muxly',
          clientAuthentication: 'body',
        },
        recordSelector: '$.data[*]',
        mapping: { name: 'x', idPath: '$.id' },
      },
      pointer: '/config/auth/tokenUrl',
    },
  ],
];

test.each(cases)('moving %s while keeping the stored credential is refused', async (_name, c) => {
  const created = await asEditor('POST', `/api/v1/${c.kind}`, {
    name: `${c.body.type}-${randomBytes(3).toString('hex')}`,
    ...c.body,
  });
  // With the problem's errors, so that a refused create says why.
  expect([created.status, created.body.errors]).toEqual([201, undefined]);
  const path = `/api/v1/${c.kind}/${created.body.id}`;

  const refused = expectProblem(await asEditor('PATCH', path, { config: c.moved }, created.headers.get('etag')!), 422);
  expect(refused.detail).toContain('send the credentials again');
  expect(refused.errors).toEqual([expect.objectContaining({ pointer: c.pointer })]);
  const stored = await asEditor('GET', path);
  expect([stored.body.version, stored.body.config]).toEqual([created.body.version, created.body.config]);

  let etag = created.headers.get('etag')!;
  if (c.samePlace) {
    // Another path on the same host keeps the credential where it was given for: allowed.
    const samePlace = await asEditor('PATCH', path, { config: c.samePlace }, etag);
    expect(samePlace.status).toBe(200);
    etag = samePlace.headers.get('etag')!;
  }
  // With the credential sent again, the move is the editor's own secret going where they say.
  const withCredentials = await asEditor('PATCH', path, { config: c.moved, credentials: c.body.credentials }, etag);
  expect(withCredentials.status).toBe(200);
  expect(withCredentials.body.config).toMatchObject(c.moved);
});
