import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { Page } from 'playwright-core';
import { encodeWireFormat, topicNames } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { waitFor } from '../../test/support/services.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from './auth/support.ts';
import {
  expectAccessible,
  go,
  screenshot,
  signIn as signInAt,
  startConsoleBrowser,
  type ConsoleBrowser,
} from './console-page.ts';
import { produceEvent } from './events.ts';
import { testTemplates } from './harness.ts';

// The web console at /console in a real headless Chromium (Debian's package) against a real
// control plane (authentication enforced, PostgreSQL, Kafka): sign in, create a file destination
// from its template and a rule for it, see an event counted in the overview, handle dead letters
// of a failing webhook (inspect, replay, resolve), and a viewer who is offered no edit action.
// Every page is checked with axe-core (no serious or critical violation) and the browser
// console must stay free of errors. With CONSOLE_SCREENSHOTS=<folder> it also saves screenshots.

const VIEWER = { username: 'vera', password: 'viewer-password-1' };

// The file destination's template with a ready-made example, as the router's templates carry.
const templates = testTemplates.map((template) =>
  template.kind === 'destination' && template.type === 'file'
    ? {
        ...template,
        examples: [
          {
            id: 'file-signups-csv',
            title: 'Signups as CSV',
            description: 'Every signup appended to a CSV file.',
            config: { format: 'csv' },
            rule: { condition: { path: '$.name', op: 'eq', value: 'signup' } },
            request: { name: 'Signups', config: { path: '/var/lib/muxly/signups.csv' } },
          },
        ],
      }
    : template,
);

let h: AuthHarness;
let producer: Producer;
let browser: ConsoleBrowser;

beforeAll(async () => {
  // Short-lived access tokens (the shortest allowed): the console must refresh its session
  // during these tests, and the last test checks it outlives its first token.
  h = await startAuthHarness({ accessTokenTtlSeconds: 30 }, { templates });
  producer = h.service.kafka.producer();
  await producer.connect();
  browser = await startConsoleBrowser(h.baseUrl);
});
afterAll(async () => {
  await browser?.close();
  await producer?.disconnect();
  await h?.close();
});
afterEach(() => {
  // Errors the console logged or threw, on any page of the test.
  expect(browser.takeErrors()).toEqual([]);
});

const openPage = () => browser.openPage();
const signIn = (page: Page, username: string, password: string) => signInAt(page, h.baseUrl, username, password);

describe('the web console', () => {
  it('serves its files from /console with their types, revalidation and a same-origin CSP', async () => {
    const page = await fetch(`${h.baseUrl}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const script = await fetch(`${h.baseUrl}/console/js/main.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const etag = script.headers.get('etag')!;
    const again = await fetch(`${h.baseUrl}/console/js/main.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect((await fetch(`${h.baseUrl}/console/styles.css`)).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
    const missing = await fetch(`${h.baseUrl}/console/nothing.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
  });

  it('signs in, creates a file destination from its template and a rule, and counts an event in the overview', async () => {
    const page = await openPage();
    await signIn(page, ADMIN.email, ADMIN.password);
    await expectAccessible(page, 'overview');

    await go(page, 'destinations', 'Destinations');
    await page.getByRole('button', { name: 'New destination' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Type').selectOption('file');
    await dialog.getByLabel('Name').fill('Event archive');
    await dialog.getByLabel('Id (optional)').fill('archive');
    await dialog.getByLabel('path (required)').fill('events.jsonl');
    await expectAccessible(page, 'destination form');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.locator('tr[data-id="archive"]').waitFor();
    const created = await h.api('GET', '/api/v1/destinations/archive', { token: await adminToken() });
    expect(created.body).toMatchObject({ type: 'file', name: 'Event archive', config: { format: 'jsonl' } });
    await expectAccessible(page, 'destinations');
    await screenshot(page, 'destinations');

    // The connection test shows each step's verdict.
    await page.locator('tr[data-id="archive"]').getByRole('button', { name: 'Test connection' }).click();
    await page.locator('tr[data-id="archive"] [data-step="config"]').waitFor();
    expect(await page.locator('tr[data-id="archive"] .steps li').count()).toBe(6);

    await go(page, 'rules', 'Rules');
    await page.getByRole('button', { name: 'New rule' }).click();
    const ruleDialog = page.getByRole('dialog');
    await ruleDialog.getByLabel('Name').fill('Signups to the archive');
    await ruleDialog.getByLabel('Event archive (file)').check();
    // Validation as you type: JSON first, then the router's compiler through the API.
    await ruleDialog.getByLabel('Condition (JSON; empty matches every event)').fill('{"path": "$.name", "op": "eq", ');
    await ruleDialog.getByText('Not valid JSON').waitFor();
    await ruleDialog
      .getByLabel('Condition (JSON; empty matches every event)')
      .fill('{"path": "$.name", "op": "eqq", "value": "signup"}');
    await ruleDialog.getByRole('button', { name: 'Validate' }).click();
    await ruleDialog.getByRole('alert').getByText('/condition').waitFor();
    await ruleDialog
      .getByLabel('Condition (JSON; empty matches every event)')
      .fill('{"path": "$.name", "op": "eq", "value": "signup"}');
    await ruleDialog.getByRole('button', { name: 'Validate' }).click();
    await ruleDialog.getByText('The router’s compiler accepts this rule.').waitFor();
    await expectAccessible(page, 'rule editor');
    await ruleDialog.getByRole('button', { name: 'Create' }).click();
    await page.locator('tr', { hasText: 'Signups to the archive' }).waitFor();
    await screenshot(page, 'rules');

    // An event on the events topic: nothing routes it here (no router runs), so the overview
    // counts it as waiting for the archive (its consumer lag), refreshed by itself.
    await go(page, 'overview', 'Overview');
    await page.locator('[data-lag="archive"]').waitFor();
    expect(await page.locator('[data-lag="archive"]').innerText()).toBe('0');
    const eventsTopic = topicNames(h.settings.topics.prefix).events;
    await produceEvent(producer, eventsTopic, 'signup');
    await produceEvent(producer, eventsTopic, 'other');
    await waitFor(
      'the overview to count two events waiting',
      async () => (await page.locator('[data-lag="archive"]').innerText()) === '2',
    );
    // The overview's screenshot comes from test/e2e/console-pipeline.e2e.test.ts, where the services run.

    // The dry-run on those events: one matches, with its sample.
    await go(page, 'rules', 'Rules');
    await page
      .getByRole('row', { name: /Signups to the archive/ })
      .getByRole('button', { name: 'Edit' })
      .click();
    await page.getByRole('dialog').getByLabel('Dry-run on the last events').fill('10');
    await page.getByRole('dialog').getByRole('button', { name: 'Dry-run' }).click();
    await page.getByRole('dialog').locator('[data-matched="1"]').waitFor();
    await page
      .getByRole('dialog')
      .getByText(/^Sample /)
      .waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).first().click();

    // The live tap follows an event named "tapped" as it passes the events topic.
    await go(page, 'tap', 'Live tap');
    await page.getByLabel('Metric or event name').fill('tapped');
    await page.getByRole('button', { name: 'Follow' }).click();
    await page.locator('[data-tap-state="ready"]').waitFor();
    const tappedId = await produceEvent(producer, eventsTopic, 'tapped');
    await page.locator('li[data-stage="event"]', { hasText: tappedId }).waitFor();
    await expectAccessible(page, 'live tap');
    await screenshot(page, 'tap');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('[data-tap-state="stopped"]').waitFor();
    await page.close();
  });

  it('lists the dead letters of a failing webhook, inspects, replays and resolves them', async () => {
    const token = await adminToken();
    const hook = await h.api('POST', '/api/v1/destinations', {
      token,
      body: {
        id: 'hook',
        name: 'Orders hook',
        type: 'webhook',
        config: { url: 'https://hooks.example.com/orders' },
        credentials: { signingSecret: 'whsec-0123456789' },
      },
    });
    expect(hook.status).toBe(201);
    const dlqTopic = topicNames(h.settings.topics.prefix).dlq;
    const ids = [];
    for (let index = 0; index < 3; index++)
      ids.push(await writeRouterDeadLetter(dlqTopic, 'hook', 'HTTP 500 from hooks.example.com'));
    await waitFor('the index to hold the three dead letters', async () => {
      const answer = await h.api('GET', '/api/v1/dead-letters?destinationId=hook', { token });
      return answer.body.items.length === 3;
    });

    const page = await openPage();
    await signIn(page, ADMIN.email, ADMIN.password);
    await go(page, 'dead-letters', 'Dead letters');
    await page.locator('[data-total="3"]').waitFor();
    await page.getByRole('button', { name: 'Show these' }).click();
    await waitFor('three rows', async () => (await page.locator('section tr[data-id^="dlq"]').count()) === 3);
    await expectAccessible(page, 'dead letters');
    await screenshot(page, 'dead-letters');

    // Inspect: the body is the event, its credential-like field masked by the API.
    const firstId = await page.locator('section tr[data-id^="dlq"]').first().getAttribute('data-id');
    await page.getByRole('button', { name: firstId! }).click();
    const inspectDialog = page.getByRole('dialog');
    await inspectDialog.getByText('HTTP 500 from hooks.example.com').first().waitFor();
    expect(await inspectDialog.locator('pre').first().innerText()).toContain('[redacted]');
    expect(await inspectDialog.locator('pre').first().innerText()).not.toContain('hunter2');
    await expectAccessible(page, 'dead letter');
    await inspectDialog.getByRole('button', { name: 'Close' }).click();

    // Replay one (selected), resolve the rest (the filter).
    page.on('dialog', (confirmation) => void confirmation.accept());
    await page.getByRole('checkbox', { name: `Select ${firstId}` }).check();
    await page.getByRole('button', { name: 'Replay' }).click();
    await page
      .getByText(/Replay rpl_\S+ started for 1 dead letter;/)
      .waitFor()
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await page.locator('main').innerText()}`);
      });
    await page.locator('[data-total="2"]').waitFor();
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.getByText('2 resolved.').waitFor();
    await page.locator('[data-total="0"]').waitFor();

    const all = await h.api('GET', '/api/v1/dead-letters?destinationId=hook&status=all', { token });
    const resolutions = Object.fromEntries(
      all.body.items.map((item: { id: string; resolution: string }) => [item.id, item.resolution]),
    );
    expect(resolutions[firstId!]).toBe('replayed');
    expect(Object.values(resolutions).sort()).toEqual(['replayed', 'resolved', 'resolved']);
    expect(all.body.items.map((item: { eventId: string }) => item.eventId).sort()).toEqual([...ids].sort());
    await page.locator('tr[data-id^="rpl_"]').waitFor();
    await page.close();
  });

  it('offers a viewer no edit action, and an admin the administration with a key shown once', async () => {
    const token = await adminToken();
    const created = await h.api('POST', '/api/v1/users', { token, body: { ...VIEWER, roles: ['viewer'] } });
    expect(created.status).toBe(201);

    const admin = await openPage();
    await signIn(admin, ADMIN.email, ADMIN.password);
    await go(admin, 'admin', 'Administration');
    await admin.locator('tr', { hasText: 'vera' }).waitFor();
    // A destination from a ready-made example: the form starts from the example's settings, and
    // the example's rule is created with it.
    await go(admin, 'destinations', 'Destinations');
    await admin.getByRole('button', { name: 'New destination' }).click();
    const dialog = admin.getByRole('dialog');
    await dialog.getByLabel('Type').selectOption('file');
    await dialog.getByLabel(/Start from an example/).selectOption('file-signups-csv');
    expect(await dialog.getByLabel('format').inputValue()).toBe('csv');
    await dialog.getByLabel('Name').fill('Signups CSV');
    await dialog.getByLabel('Id (optional)').fill('signups-csv');
    await dialog.getByLabel('path (required)').fill('signups.csv');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await admin.locator('tr[data-id="signups-csv"]').waitFor();
    const csv = await h.api('GET', '/api/v1/destinations/signups-csv', { token });
    expect(csv.body.config).toMatchObject({ format: 'csv' });
    const rules = await h.api('GET', '/api/v1/routing-rules?destinationId=signups-csv', { token });
    expect(rules.body.items).toEqual([
      expect.objectContaining({ name: 'Signups CSV', condition: { path: '$.name', op: 'eq', value: 'signup' } }),
    ]);

    await go(admin, 'admin', 'Administration');
    await admin.getByRole('button', { name: 'New API key' }).click();
    await admin.getByRole('dialog').getByLabel('Name').fill('ci-metrics');
    await admin.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    const key = await admin.getByRole('dialog').locator('[data-key]').innerText();
    expect(key).toMatch(/^mxk_/);
    await expectAccessible(admin, 'administration');
    await admin.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
    // The dialog leaves the page on its 'close' event, which the browser fires in a later task.
    await admin.getByRole('dialog').waitFor({ state: 'detached' });
    await admin.locator('tr', { hasText: 'ci-metrics' }).waitFor();
    expect(await admin.content()).not.toContain(key);
    await screenshot(admin, 'admin');
    await admin.getByRole('button', { name: 'Sign out' }).click();
    await admin.getByRole('heading', { name: 'Sign in to Muxly' }).waitFor();
    await admin.close();

    const viewer = await openPage();
    await signIn(viewer, VIEWER.username, VIEWER.password);
    const nav = await viewer.getByRole('navigation').innerText();
    expect(nav).not.toContain('Administration');
    for (const [path, title] of [
      ['destinations', 'Destinations'],
      ['rules', 'Rules'],
      ['dead-letters', 'Dead letters'],
      ['jobs', 'Jobs'],
      ['connectors', 'Connectors'],
      ['tap', 'Live tap'],
    ] as const) {
      await go(viewer, path, title);
      await waitFor(`the ${path} page to load`, async () => (await viewer.locator('main [aria-busy]').count()) === 0);
      if (path !== 'tap') await viewer.locator('main table').first().waitFor();
      const buttons = await viewer.locator('main button').allInnerTexts();
      for (const forbidden of [
        'New destination',
        'New rule',
        'New job',
        'New connector',
        'Edit',
        'Delete',
        'Disable',
        'Replay',
        'Resolve',
        'Run now',
        'Test connection',
      ])
        expect({ page: path, buttons }).not.toEqual({ page: path, buttons: expect.arrayContaining([forbidden]) });
      await expectAccessible(viewer, `${path} as viewer`);
    }
    // A phone-sized window: the same page, no horizontal scrolling of the page itself.
    await viewer.setViewportSize({ width: 390, height: 800 });
    await go(viewer, 'overview', 'Overview');
    await viewer.locator('.flow').waitFor();
    const overflow = await viewer.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await expectAccessible(viewer, 'overview on a phone');
    await screenshot(viewer, 'overview-phone');
    await viewer.close();
  });

  it('keeps the session going past the lifetime of its access token, and signs out for good', async () => {
    const page = await openPage();
    await signIn(page, ADMIN.email, ADMIN.password);
    const stored = () =>
      page.evaluate<{ accessToken: string; refreshToken: string }>(
        'JSON.parse(sessionStorage.getItem("muxly.session"))',
      );
    const first = await stored();
    // The first access token expires (the API refuses it) while the page stays open.
    await waitFor(
      'the first access token to expire',
      async () => (await h.api('GET', '/api/v1/auth/me', { token: first.accessToken })).status === 401,
      60_000,
      1_000,
    );
    const now = await stored();
    expect(now.accessToken).not.toBe(first.accessToken);
    expect(now.refreshToken).not.toBe(first.refreshToken);
    // The console still works with what it holds now.
    await go(page, 'destinations', 'Destinations');
    await page.locator('tr[data-id="archive"]').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Muxly' }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("muxly.session")')).toBeNull();
    // Signing out ended the session on the server: its refresh token no longer works.
    const refreshed = await h.api('POST', '/api/v1/auth/refresh', { body: { refreshToken: now.refreshToken } });
    expect(refreshed.status).toBe(401);
    await page.close();
  });
});

async function adminToken(): Promise<string> {
  return (await h.login(ADMIN.email, ADMIN.password)).accessToken;
}

/** A dead letter as the router writes it after its retries (the headers of the DLQ contract); returns its event id. */
async function writeRouterDeadLetter(topic: string, destinationId: string, message: string): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  const event = {
    id,
    schemaVersion: 1,
    kind: 'event',
    name: 'order.paid',
    timestamp: now,
    receivedAt: now,
    source: { type: 'api', id: 'test' },
    dimensions: {},
    attributes: { password: 'hunter2-secret', amount: 12 },
  };
  await producer.send({
    topic,
    acks: -1,
    messages: [
      {
        key: 'order.paid',
        value: encodeWireFormat(1, event),
        headers: {
          [DLQ_HEADERS.originalTopic]: topicNames(h.settings.topics.prefix).events,
          [DLQ_HEADERS.originalPartition]: '0',
          [DLQ_HEADERS.originalOffset]: '7',
          [DLQ_HEADERS.stage]: 'router',
          [DLQ_HEADERS.destinationId]: destinationId,
          [DLQ_HEADERS.errorClass]: 'RetryableError',
          [DLQ_HEADERS.errorMessage]: message,
          [DLQ_HEADERS.attempts]: '10',
          [DLQ_HEADERS.firstFailedAt]: now,
        },
      },
    ],
  });
  return id;
}
