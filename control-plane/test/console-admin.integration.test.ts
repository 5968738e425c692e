import type { Page } from 'playwright-core';
import { waitFor } from '../../test/support/services.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from './auth/support.ts';
import {
  expectAccessible,
  go,
  screenshot,
  settled,
  signIn,
  startConsoleBrowser,
  type ConsoleBrowser,
} from './console-page.ts';

// The console's editing of what only the API could change before: custom roles and their
// permissions, users' roles, routes, and a rule's condition and transformations checked by the
// router's compiler as they are typed. A real headless Chromium against a real control plane
// (authentication enforced, PostgreSQL, Kafka); axe-core on each page and no browser console error.

const RITA = { username: 'rita', password: 'rita-password-123' };
const DAN = { username: 'dan', password: 'dan-password-1234' };
// What the custom role grants: reading destinations, reading and writing rules, reading routes.
const RULE_AUTHOR = ['destinations:read', 'routes:read', 'routing-rules:read', 'routing-rules:write'];

let h: AuthHarness;
let browser: ConsoleBrowser;
let token: string;

beforeAll(async () => {
  h = await startAuthHarness();
  browser = await startConsoleBrowser(h.baseUrl);
  token = (await h.login(ADMIN.email, ADMIN.password)).accessToken;
  const created = [
    await h.api('POST', '/api/v1/destinations', {
      token,
      body: { id: 'archive', name: 'Event archive', type: 'file', config: { path: 'events.jsonl' } },
    }),
    await h.api('POST', '/api/v1/routing-rules', {
      token,
      body: {
        id: 'signups',
        name: 'Signups',
        priority: 10,
        condition: { path: '$.name', op: 'eq', value: 'signup' },
        destinationIds: ['archive'],
      },
    }),
    await h.api('POST', '/api/v1/routing-rules', {
      token,
      body: { id: 'orders', name: 'Orders', priority: 20, destinationIds: ['archive'] },
    }),
    await h.api('POST', '/api/v1/routes', {
      token,
      body: { id: 'from-api', name: 'From the API', connectorId: null, ruleIds: ['signups'] },
    }),
    await h.api('POST', '/api/v1/users', { token, body: { ...RITA, roles: ['viewer'] } }),
    await h.api('POST', '/api/v1/users', { token, body: { ...DAN, roles: ['viewer'] } }),
  ];
  expect(created.map((answer) => answer.status)).toEqual([201, 201, 201, 201, 201, 201]);
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});
afterEach(() => {
  expect(browser?.takeErrors() ?? []).toEqual([]);
});

async function openSignedIn(username: string, password: string, firstPage?: string): Promise<Page> {
  const page = await browser.openPage();
  // Deleting asks for a confirmation.
  page.on('dialog', (confirmation) => void confirmation.accept());
  await signIn(page, h.baseUrl, username, password, firstPage);
  return page;
}

const buttonsOf = async (page: Page) => page.locator('main button').allInnerTexts();

describe('editing from the console', () => {
  it('lets an admin make a custom role and give it to a user, who is offered exactly what it allows', async () => {
    const admin = await openSignedIn(ADMIN.email, ADMIN.password);
    await go(admin, 'admin', 'Administration');
    await settled(admin);
    // Built-in roles are read-only: no action on their rows.
    for (const builtin of ['admin', 'editor', 'viewer'])
      expect(await admin.locator(`tr[data-role="${builtin}"] button`).count()).toBe(0);

    await admin.getByRole('button', { name: 'New role' }).click();
    const roleDialog = admin.getByRole('dialog');
    await roleDialog.getByLabel('Role name').fill('rule-author');
    await roleDialog.getByLabel('Description (optional)').fill('Writes routing rules');
    for (const permission of ['destinations:read', 'routing-rules:read', 'routing-rules:write'])
      await roleDialog.getByLabel(permission, { exact: true }).check();
    await expectAccessible(admin, 'role editor');
    await roleDialog.getByRole('button', { name: 'Create' }).click();
    await admin.locator('tr[data-role="rule-author"]').waitFor();

    // Edit it: one more permission.
    await admin.locator('tr[data-role="rule-author"]').getByRole('button', { name: 'Edit' }).click();
    expect(await admin.getByRole('dialog').getByLabel('routing-rules:write', { exact: true }).isChecked()).toBe(true);
    await admin.getByRole('dialog').getByLabel('routes:read', { exact: true }).check();
    await admin.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('dialog').waitFor({ state: 'detached' });
    await admin.locator('tr[data-role="rule-author"]', { hasText: 'routes:read' }).waitFor();
    const roles = await h.api('GET', '/api/v1/roles', { token });
    const role = roles.body.items.find((item: { name: string }) => item.name === 'rule-author');
    expect({ permissions: [...role.permissions].sort(), description: role.description }).toEqual({
      permissions: RULE_AUTHOR,
      description: 'Writes routing rules',
    });

    // Give it to Rita instead of viewer.
    const ritaRow = admin.locator('tr', { hasText: RITA.username });
    await ritaRow.getByRole('button', { name: 'Roles' }).click();
    const rolesDialog = admin.getByRole('dialog');
    await rolesDialog.getByLabel('viewer', { exact: true }).uncheck();
    await rolesDialog.getByLabel('rule-author', { exact: true }).check();
    await expectAccessible(admin, "a user's roles");
    await rolesDialog.getByRole('button', { name: 'Save' }).click();
    await admin.locator('tr', { hasText: RITA.username }).filter({ hasText: 'rule-author' }).waitFor();

    // Disable and enable Dan.
    const danRow = admin.locator('tr', { hasText: DAN.username });
    await danRow.getByRole('button', { name: 'Disable' }).click();
    await danRow.filter({ hasText: 'disabled' }).getByRole('button', { name: 'Enable' }).waitFor();
    const dan = await h.api('GET', '/api/v1/users', { token });
    expect(dan.body.items.find((user: { username: string }) => user.username === DAN.username).disabled).toBe(true);
    expect((await h.api('POST', '/api/v1/auth/login', { body: DAN })).status).toBe(401);
    await danRow.getByRole('button', { name: 'Enable' }).click();
    await danRow.filter({ hasText: 'active' }).getByRole('button', { name: 'Disable' }).waitFor();
    expect((await h.api('POST', '/api/v1/auth/login', { body: DAN })).status).toBe(200);
    await expectAccessible(admin, 'administration');
    await screenshot(admin, 'admin-roles');

    // Delete Dan: the row goes, the API no longer lists him and his password no longer signs in.
    await admin.locator('tr', { hasText: DAN.username }).getByRole('button', { name: 'Delete' }).click();
    await admin.locator('tr', { hasText: DAN.username }).waitFor({ state: 'detached' });
    const remaining = await h.api('GET', '/api/v1/users', { token });
    expect(remaining.body.items.map((user: { username: string }) => user.username)).not.toContain(DAN.username);
    expect((await h.api('POST', '/api/v1/auth/login', { body: DAN })).status).toBe(401);

    // On a phone-sized window these pages do not scroll sideways as a whole (wide tables scroll
    // inside their own box) and stay accessible.
    await admin.setViewportSize({ width: 390, height: 800 });
    for (const [path, heading] of [
      ['admin', 'Administration'],
      ['routes', 'Routes'],
      ['rules', 'Rules'],
    ] as const) {
      await go(admin, path, heading);
      await settled(admin);
      const overflow = await admin.evaluate<number>(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      expect({ path, overflow }).toEqual({ path, overflow: 0 });
      await expectAccessible(admin, `${path} on a phone`);
    }
    await admin.getByRole('button', { name: 'Sign out' }).click();
    await admin.getByRole('heading', { name: 'Sign in to Muxly' }).waitFor();
    await admin.close();

    // Rita now reads destinations, reads and writes rules, reads routes: those pages only (no
    // overview without health:read), and only the rules can be changed.
    const rita = await openSignedIn(RITA.username, RITA.password, 'Destinations');
    expect(await rita.getByRole('navigation').getByRole('link').allInnerTexts()).toEqual([
      'Destinations',
      'Rules',
      'Routes',
    ]);
    await settled(rita);
    await rita.locator('tr[data-id="archive"]').waitFor();
    expect(await buttonsOf(rita)).toEqual([]);

    await go(rita, 'rules', 'Rules');
    await settled(rita);
    await rita.locator('tr[data-id="signups"]').waitFor();
    expect((await buttonsOf(rita)).sort()).toEqual(['Edit', 'Edit', 'New rule']);

    await go(rita, 'routes', 'Routes');
    await settled(rita);
    await rita.locator('tr[data-id="from-api"]', { hasText: 'Signups' }).waitFor();
    expect(await buttonsOf(rita)).toEqual([]);
    await expectAccessible(rita, 'routes, read only');
    // The API agrees: the route cannot be changed by her.
    const ritaToken = (await h.login(RITA.username, RITA.password)).accessToken;
    expect((await h.api('DELETE', '/api/v1/routes/from-api', { token: ritaToken })).status).toBe(403);
    await rita.close();
  });

  it('edits a route: its rules in order, its source and what a failure does; creates and deletes one', async () => {
    const page = await openSignedIn(ADMIN.email, ADMIN.password);
    await go(page, 'routes', 'Routes');
    await page.locator('tr[data-id="from-api"]').getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.getByLabel('Source').inputValue()).toBe('');
    await dialog.getByLabel('Orders', { exact: true }).check();
    await dialog.getByRole('button', { name: 'Move Orders up' }).click();
    await dialog.getByLabel('When delivery fails').selectOption('stop');
    await expectAccessible(page, 'route editor');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.locator('tr[data-id="from-api"]', { hasText: 'stop' }).waitFor();
    expect(await page.locator('tr[data-id="from-api"] ol li').allInnerTexts()).toEqual(['Orders', 'Signups']);
    const route = await h.api('GET', '/api/v1/routes/from-api', { token });
    expect(route.body).toMatchObject({
      connectorId: null,
      ruleIds: ['orders', 'signups'],
      errorHandling: { onFailure: 'stop' },
      version: 2,
    });
    await expectAccessible(page, 'routes');
    await screenshot(page, 'routes');

    await page.getByRole('button', { name: 'New route' }).click();
    await page.getByRole('dialog').getByLabel('Name').fill('Signups only');
    await page.getByRole('dialog').getByLabel('Id (optional)').fill('signups-only');
    await page.getByRole('dialog').getByLabel('Signups', { exact: true }).check();
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    await page.locator('tr[data-id="signups-only"]').waitFor();
    expect((await h.api('GET', '/api/v1/routes/signups-only', { token })).body).toMatchObject({
      ruleIds: ['signups'],
      enabled: true,
      errorHandling: { onFailure: 'dead-letter' },
    });
    await page.locator('tr[data-id="signups-only"]').getByRole('button', { name: 'Delete' }).click();
    await page.locator('tr[data-id="signups-only"]').waitFor({ state: 'detached' });
    expect((await h.api('GET', '/api/v1/routes/signups-only', { token })).status).toBe(404);
    await page.close();
  });

  it("checks a rule's condition and transformations with the router's compiler as they are typed", async () => {
    const page = await openSignedIn(ADMIN.email, ADMIN.password);
    // Every check the editor asks for, and how many are out at once.
    let asked = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    page.on('request', (request) => {
      if (!request.url().endsWith('/api/v1/routing-rules/validate')) return;
      asked += 1;
      mostInFlight = Math.max(mostInFlight, ++inFlight);
    });
    const finished = (request: { url(): string }) => {
      if (request.url().endsWith('/api/v1/routing-rules/validate')) inFlight -= 1;
    };
    page.on('requestfinished', finished);
    page.on('requestfailed', finished);

    await go(page, 'rules', 'Rules');
    await page.locator('tr[data-id="signups"]').getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog');
    const condition = dialog.getByLabel('Condition (JSON; empty matches every event)');
    const conditionStatus = dialog.locator('#rule-condition-status');
    const transformationsStatus = dialog.locator('#rule-transformations-status');

    // Not JSON: said at once, by the page (no request).
    await condition.fill('{"path": "$.name", "op": ');
    await conditionStatus.getByText('Not valid JSON').waitFor();
    expect(await condition.getAttribute('aria-invalid')).toBe('true');
    expect(asked).toBe(0);

    // An unknown operator: the compiler's pointer and message next to the field, no Validate click.
    await condition.fill('{"path": "$.name", "op": "eqq", "value": "signup"}');
    await conditionStatus.getByText('/condition/op').waitFor();
    expect(await conditionStatus.innerText()).toContain('unknown operator');
    expect(await conditionStatus.getAttribute('aria-live')).toBe('polite');
    expect(await dialog.getByRole('alert').count()).toBe(0);
    await expectAccessible(page, 'rule editor with a problem');
    await screenshot(page, 'rule-problem');

    // Fixed: the problem goes away.
    await condition.fill('{"path": "$.name", "op": "eq", "value": "signup"}');
    await conditionStatus.getByText('The router’s compiler accepts it.').waitFor();
    expect(await conditionStatus.innerText()).not.toContain('/condition/op');
    expect(await condition.getAttribute('aria-invalid')).toBeNull();

    // The transformations too, at their own field.
    const transformations = dialog.getByLabel('Transformations (JSON array)');
    await transformations.fill('[{"type": "no-such-step"}]');
    await transformationsStatus.getByText('/transformations/0').waitFor();
    await transformations.fill('[]');
    await transformationsStatus.getByText('The router’s compiler accepts it.').waitFor();

    // Typing a word: every key leaves valid JSON, yet the pauses decide the requests (fewer than
    // the keys), one at a time; the last answer is about the last text.
    const before = asked;
    await condition.fill('{"path": "$.name", "op": "eqq", "value": ""}');
    await condition.press('End');
    for (let index = 0; index < 2; index++) await condition.press('ArrowLeft');
    const word = 'signup-from-the-web';
    await condition.pressSequentially(word);
    expect(await condition.inputValue()).toBe(`{"path": "$.name", "op": "eqq", "value": "${word}"}`);
    await conditionStatus.getByText('/condition/op').waitFor();
    await waitFor('the last check', async () => !(await conditionStatus.innerText()).startsWith('Checking'));
    expect(asked - before).toBeGreaterThan(0);
    expect(asked - before).toBeLessThan(word.length);
    expect(mostInFlight).toBe(1);
    await dialog.getByRole('button', { name: 'Close' }).last().click();
    await page.close();

    // The endpoint itself: a refused rule is an answer, not an error.
    const answer = await h.api('POST', '/api/v1/routing-rules/validate', {
      token,
      body: { condition: { path: '$.name', op: 'eqq', value: 'x' }, transformations: {} },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.valid).toBe(false);
    expect(answer.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual([
      '/condition/op',
      '/transformations',
    ]);
  });
});
