import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createLogger, SecretKeyring } from '@muxly/common';
import { startFakeBigQuery, type FakeBigQuery } from '../../ingest/src/connectors/bigquery/bigquery.fake.ts';
import {
  CUSTOM_TOKEN,
  startFakeCustomApi,
  type FakeCustomApi,
} from '../../ingest/src/connectors/custom/custom.fake.ts';
import { startFakeGa4, type FakeGa4 } from '../../ingest/src/connectors/ga4/ga4.fake.ts';
import { GOOGLE_TOKEN } from '../../ingest/src/connectors/toolkit/testing/google-errors.ts';
import {
  contact,
  HUBSPOT_TOKEN,
  HUBSPOT_TOKEN_WITHOUT_SCOPES,
  startFakeHubSpot,
  type FakeHubSpot,
} from '../../ingest/src/connectors/hubspot/hubspot.fake.ts';
import { loadTemplates } from '../src/templates/sources.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { startHarness, type ApiAnswer, type Harness } from './harness.ts';

// POST /api/v1/{connectors,destinations}/{id}/test with the real templates: each connector type's
// own check runs its official client against a local server speaking that service's wire format
// (each connector folder's `<type>.fake.ts`), and the destinations' checks ask real peers (an HTTP receiver, PostgreSQL,
// the local S3 server). The answer names the step where a connection breaks.

const logger = createLogger({ service: 'connection-test-test', level: 'error', silent: true });
const S3_ENDPOINT = process.env.MUXLY_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:9090';
const verdicts = (answer: ApiAnswer): string[] => {
  if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  return (answer.body.steps as { name: string; status: string }[]).map((step) => `${step.name}:${step.status}`);
};
const detailOf = (answer: ApiAnswer, name: string): string =>
  (answer.body.steps as { name: string; detail: string }[]).find((step) => step.name === name)!.detail;
const ALL_OK = ['config:ok', 'resolve:ok', 'connect:ok', 'authenticate:ok', 'permission:ok', 'check:ok'];

describe("connection tests run each type's real check", () => {
  let h: Harness;
  let bigquery: FakeBigQuery;
  let ga4: FakeGa4;
  let hubspot: FakeHubSpot;
  let custom: FakeCustomApi;
  let receiver: Server;
  let receiverUrl: string;
  const received: string[] = [];

  const create = async (kind: 'connectors' | 'destinations', body: Record<string, unknown>): Promise<string> => {
    const answer = await h.api('POST', `/api/v1/${kind}`, {
      name: `${body.type as string}-${randomBytes(3).toString('hex')}`,
      ...body,
    });
    if (answer.status !== 201)
      throw new Error(`creating ${kind} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.id as string;
  };
  const test = (kind: 'connectors' | 'destinations', id: string) => h.api('POST', `/api/v1/${kind}/${id}/test`);

  beforeAll(async () => {
    bigquery = await startFakeBigQuery({
      projectId: 'muxly-test',
      schema: [{ name: 't', type: 'TIMESTAMP' }],
      rows: [],
      cursorColumn: 't',
    });
    ga4 = await startFakeGa4('123456789', []);
    hubspot = await startFakeHubSpot({ contacts: [contact(1, '2026-03-01T00:00:00.000Z', 'a@example.com')] });
    custom = await startFakeCustomApi([{ id: 'a', updated_at: '2026-03-01T00:00:00Z', plan: 'pro', seats: 1 }]);
    receiver = createServer((request, response) => {
      received.push(request.method ?? '');
      response.writeHead(405).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/muxly`;
    // Loopback is where the fakes and peers listen: the operator's allow-list names it, as it would for a local API.
    const templates = await loadTemplates(logger, { connectorPlugins: ['./ingest/plugins/example-connector'] });
    h = await startHarness({ templates, settings: { outbound: { allowAddresses: ['127.0.0.0/8'] } } });
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([bigquery?.close(), ga4?.close(), hubspot?.close(), custom?.close()]);
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  describe('connectors, against local servers speaking each API', () => {
    it('bigquery: a dry run proves credentials, access and query; a foreign project fails permission', async () => {
      const config = {
        projectId: 'muxly-test',
        query: 'SELECT t FROM `muxly-test.product.events` WHERE t > @cursor',
        cursorColumn: 't',
        mapping: { kind: 'event', name: 'e', timestampColumn: 't' },
        apiEndpoint: bigquery.url,
      };
      const good = await test(
        'connectors',
        await create('connectors', { type: 'bigquery', config, credentials: { accessToken: GOOGLE_TOKEN } }),
      );
      expect(good.body.ok).toBe(true);
      expect(verdicts(good)).toEqual(ALL_OK);
      expect(detailOf(good, 'check')).toMatch(/would process 1024 bytes/);
      expect(detailOf(good, 'connect')).toMatch(/outbound address guard permits it/);
      const dryRun = JSON.parse(bigquery.requests.at(-1)!.body) as { configuration: { dryRun?: boolean } };
      expect(dryRun.configuration.dryRun).toBe(true);

      const foreign = await test(
        'connectors',
        await create('connectors', {
          type: 'bigquery',
          config: { ...config, projectId: 'not-ours' },
          credentials: { accessToken: GOOGLE_TOKEN },
        }),
      );
      expect(foreign.body.ok).toBe(false);
      expect(verdicts(foreign)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:ok',
        'permission:failed',
        'check:skipped',
      ]);
      expect(detailOf(foreign, 'permission')).toMatch(/bigquery\.jobs\.create permission in project not-ours/);
    });

    it('ga4: a one-row report; a refused token fails authenticate', async () => {
      const config = {
        propertyId: '123456789',
        metrics: ['activeUsers'],
        dimensions: ['country'],
        apiEndpoint: ga4.url,
      };
      expect(
        verdicts(
          await test(
            'connectors',
            await create('connectors', { type: 'ga4', config, credentials: { accessToken: GOOGLE_TOKEN } }),
          ),
        ),
      ).toEqual(ALL_OK);
      const refused = await test(
        'connectors',
        await create('connectors', { type: 'ga4', config, credentials: { accessToken: 'ya29.expired' } }),
      );
      expect(verdicts(refused)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:failed',
        'permission:skipped',
        'check:skipped',
      ]);
      expect(detailOf(refused, 'authenticate')).toMatch(/GA4 refused the credentials/);
    });

    it('hubspot: one search; a token without the CRM scopes fails permission', async () => {
      const config = { objectType: 'contacts', apiBaseUrl: hubspot.url };
      const good = await test(
        'connectors',
        await create('connectors', { type: 'hubspot', config, credentials: { accessToken: HUBSPOT_TOKEN } }),
      );
      expect(verdicts(good)).toEqual(ALL_OK);
      expect(detailOf(good, 'check')).toBe('1 objects visible');
      const unscoped = await test(
        'connectors',
        await create('connectors', {
          type: 'hubspot',
          config,
          credentials: { accessToken: HUBSPOT_TOKEN_WITHOUT_SCOPES },
        }),
      );
      expect(verdicts(unscoped)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:ok',
        'permission:failed',
        'check:skipped',
      ]);
      expect(detailOf(unscoped, 'permission')).toMatch(/MISSING_SCOPES/);
    });

    it('hubspot public app: a refresh token the provider rotates during the test is stored in place of the old one', async () => {
      const app = { clientId: 'public-app', clientSecret: 'app-secret-7' };
      const rotating = await startFakeHubSpot(
        { contacts: [contact(1, '2026-03-01T00:00:00.000Z', 'a@example.com')] },
        { tokenEndpoint: { style: 'hubspot', clients: [app], refreshTokens: ['rt-one'], rotateRefreshTokens: true } },
      );
      const db = new pg.Client({ connectionString: h.database.url });
      try {
        const id = await create('connectors', {
          type: 'hubspot',
          config: { objectType: 'contacts', apiBaseUrl: rotating.url },
          credentials: { ...app, refreshToken: 'rt-one' },
        });
        const before = (await h.api('GET', `/api/v1/connectors/${id}`)).body.version as number;
        const answer = await test('connectors', id);
        expect(verdicts(answer)).toEqual(ALL_OK);
        const current = [...rotating.tokens!.refreshTokens];
        expect(current).toHaveLength(1);
        expect(current[0]).not.toBe('rt-one'); // the old one no longer works
        const after = (await h.api('GET', `/api/v1/connectors/${id}`)).body;
        expect(after.version).toBe(before + 1);
        expect(JSON.stringify([answer.body, after])).not.toContain(current[0]);
        await db.connect();
        const { rows } = await db.query('select credentials from connectors where id = $1', [id]);
        const keyring = new SecretKeyring(h.settings.controlPlane.secrets);
        expect(keyring.decrypt(rows[0].credentials, `connector/${id}`)).toEqual({ ...app, refreshToken: current[0] });
        // A second test renews with the stored token.
        expect(verdicts(await test('connectors', id))).toEqual(ALL_OK);
      } finally {
        await db.end().catch(() => undefined);
        await rotating.close();
      }
    });

    it('custom HTTP: the first page; a wrong token or missing credentials fail authenticate', async () => {
      const config = {
        stream: 'items',
        url: `${custom.url}/v1/items?since={{cursor}}`,
        auth: { type: 'bearer' },
        recordSelector: '$.data[*]',
        mapping: { name: 'item', idPath: '$.id' },
      };
      const good = await test(
        'connectors',
        await create('connectors', { type: 'custom', config, credentials: { token: CUSTOM_TOKEN } }),
      );
      expect(verdicts(good)).toEqual(ALL_OK);
      expect(detailOf(good, 'check')).toMatch(/found 1 records/);
      const wrong = await test(
        'connectors',
        await create('connectors', { type: 'custom', config, credentials: { token: 'not-the-token' } }),
      );
      expect(verdicts(wrong)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:failed',
        'permission:skipped',
        'check:skipped',
      ]);
      expect(detailOf(wrong, 'authenticate')).toMatch(/refused the credentials \(HTTP 401\)/);
      // Secrets never appear in an answer, not even in a failed step's detail.
      expect(JSON.stringify(wrong.body)).not.toContain('not-the-token');
      const none = await test('connectors', await create('connectors', { type: 'custom', config }));
      expect(verdicts(none)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:failed',
        'permission:skipped',
        'check:skipped',
      ]);
      expect(detailOf(none, 'authenticate')).toMatch(/needs credentials\.token/);
    });

    it("a plugin connector (ingest.jobs.plugins): the plugin's own check, its steps shown under check", async () => {
      const answer = await test(
        'connectors',
        await create('connectors', { type: 'example-heartbeat', config: { intervalSeconds: 3600 } }),
      );
      expect(verdicts(answer)).toEqual([
        'config:ok',
        'resolve:skipped',
        'connect:skipped',
        'authenticate:skipped',
        'permission:skipped',
        'check:ok',
      ]);
      expect(detailOf(answer, 'check')).toBe('configuration: one example.heartbeat every 3600s');
      expect(detailOf(answer, 'authenticate')).toBe('not tested by the example-heartbeat check');
    });

    it("an endpoint that refuses connections fails connect, and the type's check does not run", async () => {
      const before = custom.requests.length;
      const answer = await test(
        'connectors',
        await create('connectors', {
          type: 'custom',
          config: { url: 'http://127.0.0.1:1/items', recordSelector: '$[*]', mapping: { name: 'x', idPath: '$.id' } },
        }),
      );
      expect(verdicts(answer)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:failed',
        'authenticate:skipped',
        'permission:skipped',
        'check:skipped',
      ]);
      expect(detailOf(answer, 'connect')).toMatch(/cannot connect to 127\.0\.0\.1:1/);
      expect(custom.requests.length).toBe(before);
    });
  });

  describe('destinations, against real peers', () => {
    it('webhook: the receiver answers (no event is sent)', async () => {
      const allowed = await test(
        'destinations',
        await create('destinations', {
          type: 'webhook',
          config: { url: receiverUrl },
          credentials: { secret: 'whsec_c2VjcmV0LXNpZ25pbmcta2V5' },
        }),
      );
      expect(verdicts(allowed)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:skipped',
        'permission:skipped',
        'check:ok',
      ]);
      expect(received).toEqual(['HEAD']);
      // The peer is the one the webhook folder names (its url field).
      expect(detailOf(allowed, 'resolve')).toMatch(/^127\.0\.0\.1 \(from url\) resolves to 127\.0\.0\.1/);
    });

    it("prometheus: the exporter's listening address is no peer; without a Pushgateway nothing is resolved", async () => {
      const answer = await test(
        'destinations',
        await create('destinations', {
          type: 'prometheus',
          config: { port: 1, metrics: [{ name: 'muxly_test_total', type: 'counter' }] },
        }),
      );
      expect(answer.body.ok).toBe(true);
      expect(verdicts(answer)).toEqual([
        'config:ok',
        'resolve:skipped',
        'connect:skipped',
        'authenticate:skipped',
        'permission:skipped',
        'check:skipped',
      ]);
      expect(detailOf(answer, 'resolve')).toBe('the config names no network endpoint');
      expect(detailOf(answer, 'check')).toBe('the prometheus type has no check of its own');
    });

    describe('database (PostgreSQL)', () => {
      const role = `muxly_ro_${randomBytes(4).toString('hex')}`;
      let admin: pg.Client;
      // A database of its own: the control plane's database is one no destination may reach.
      let target: TestDatabase;
      const connectionAs = (user: string) => {
        const url = new URL(target.url);
        url.username = user;
        return url.toString();
      };
      const config = { table: 'deliveries', columns: { name: '$.name', value: '$.value' } };
      beforeAll(async () => {
        target = await createTestDatabase();
        admin = new pg.Client({ connectionString: target.url });
        await admin.connect();
        await admin.query('create table deliveries (id text primary key, name text, value double precision)');
        await admin.query(`create role ${role} login`);
        await admin.query(`grant select on deliveries to ${role}`);
      });
      afterAll(async () => {
        await admin?.query(`revoke all on deliveries from ${role}`);
        await admin?.query(`drop role if exists ${role}`);
        await admin?.end();
        await target?.drop();
      });

      it('passes with a user that may write the table', async () => {
        const answer = await test(
          'destinations',
          await create('destinations', { type: 'database', config, credentials: { connectionString: target.url } }),
        );
        expect(verdicts(answer)).toEqual(ALL_OK);
        expect(detailOf(answer, 'permission')).toMatch(/may INSERT/);
      });

      it('a read-only user fails permission; an unknown user fails authenticate; a missing table fails check', async () => {
        const readOnly = await test(
          'destinations',
          await create('destinations', {
            type: 'database',
            config,
            credentials: { connectionString: connectionAs(role) },
          }),
        );
        expect(verdicts(readOnly)).toEqual([
          'config:ok',
          'resolve:ok',
          'connect:ok',
          'authenticate:ok',
          'permission:failed',
          'check:skipped',
        ]);
        expect(detailOf(readOnly, 'permission')).toMatch(/may not INSERT into "public"\."deliveries"/);

        const unknown = await test(
          'destinations',
          await create('destinations', {
            type: 'database',
            config,
            credentials: { connectionString: connectionAs(`${role}_nobody`) },
          }),
        );
        expect(verdicts(unknown)).toEqual([
          'config:ok',
          'resolve:ok',
          'connect:ok',
          'authenticate:failed',
          'permission:skipped',
          'check:skipped',
        ]);
        expect(detailOf(unknown, 'authenticate')).toMatch(/role "muxly_ro_\w+_nobody" does not exist/);

        const missing = await test(
          'destinations',
          await create('destinations', {
            type: 'database',
            config: { ...config, table: 'nowhere' },
            credentials: { connectionString: target.url },
          }),
        );
        expect(verdicts(missing)).toEqual([
          'config:ok',
          'resolve:ok',
          'connect:ok',
          'authenticate:ok',
          'permission:skipped',
          'check:failed',
        ]);
        expect(detailOf(missing, 'check')).toMatch(/relation "public\.nowhere" does not exist/);
        // The connection string (a credential) is never echoed back.
        expect(JSON.stringify([readOnly.body, unknown.body, missing.body])).not.toContain('postgresql://');
      });
    });

    it('s3: an existing bucket passes; a missing bucket fails check', async () => {
      const bucket = `muxly-check-${randomBytes(4).toString('hex')}`;
      const made = await fetch(`${S3_ENDPOINT}/${bucket}`, { method: 'PUT' }).catch((error: Error) => {
        throw new Error(
          `the S3-compatible server is not reachable at ${S3_ENDPOINT} (${error.message}); start it with npm run stack:start`,
        );
      });
      expect(made.status).toBe(200);
      const config = { bucket, endpoint: S3_ENDPOINT, forcePathStyle: true, accessKeyId: 'test' };
      const good = await test(
        'destinations',
        await create('destinations', { type: 's3', config, credentials: { secretAccessKey: 'test' } }),
      );
      expect(verdicts(good)).toEqual(ALL_OK);
      const missing = await test(
        'destinations',
        await create('destinations', {
          type: 's3',
          config: { ...config, bucket: `${bucket}-gone` },
          credentials: { secretAccessKey: 'test' },
        }),
      );
      expect(verdicts(missing)).toEqual([
        'config:ok',
        'resolve:ok',
        'connect:ok',
        'authenticate:ok',
        'permission:skipped',
        'check:failed',
      ]);
      expect(detailOf(missing, 'check')).toMatch(/NotFound|NoSuchBucket/);
    });
  });
});

describe("connection tests honour the operator's outbound allow-list", () => {
  let h: Harness;
  let custom: FakeCustomApi;
  beforeAll(async () => {
    custom = await startFakeCustomApi([]);
    // Production mode without an allow-list: loopback is internal, so a sync would be refused, and so is the test.
    h = await startHarness({ templates: await loadTemplates(logger), settings: { mode: 'production' } });
  });
  afterAll(async () => {
    await h?.close();
    await custom?.close();
  });

  it('refuses an internal endpoint at the connect step, before any connection or request', async () => {
    const created = await h.api('POST', '/api/v1/connectors', {
      name: 'internal api',
      type: 'custom',
      config: { url: `${custom.url}/v1/items`, recordSelector: '$.data[*]', mapping: { name: 'x', idPath: '$.id' } },
    });
    expect(created.status).toBe(201);
    const answer = await h.api('POST', `/api/v1/connectors/${created.body.id}/test`);
    expect(verdicts(answer)).toEqual([
      'config:ok',
      'resolve:ok',
      'connect:failed',
      'authenticate:skipped',
      'permission:skipped',
      'check:skipped',
    ]);
    expect(detailOf(answer, 'connect')).toMatch(
      /127\.0\.0\.1 \(127\.0\.0\.1\) is an internal address and outbound\.allowAddresses does not name it/,
    );
    expect(custom.requests).toHaveLength(0);
  });
});
