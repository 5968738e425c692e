import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../../test/support/browser.ts';
import { waitFor } from '../../test/support/services.ts';

// What the console's browser tests share: a Chromium whose pages record every error the console
// logs or throws (and any request to another host), signing in, moving between pages, the
// axe-core check, and the screenshots of docs/console.md (CONSOLE_SCREENSHOTS=<folder>).

const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;
const AXE = readFileSync(new URL(import.meta.resolve('axe-core/axe.min.js')), 'utf8');

export interface ConsoleBrowser {
  /** Errors seen on any page since the last takeErrors(). */
  takeErrors(): string[];
  /** HTTP statuses a step provokes on purpose: Chromium logs every 4xx answer as a console error. */
  expectRefusals(statuses: number[]): void;
  openPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Debian's Chromium with one persistent profile, its pages opened on the console at `baseUrl`.
 * `otherOrigins`: origins the pages may also talk to (the Keycloak realm of an SSO sign-in).
 * `foreignPages`: origins whose own pages' failed loads are printed rather than failing the test
 * (Keycloak's sign-in pages are not Muxly's; the console's requests to the realm are asserted by
 * the test itself).
 */
export async function startConsoleBrowser(
  baseUrl: string,
  options: { otherOrigins?: string[]; foreignPages?: string[] } = {},
): Promise<ConsoleBrowser> {
  const allowed = [baseUrl, ...(options.otherOrigins ?? [])];
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  const userDataDir = await mkdtemp(join(tmpdir(), 'muxly-console-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      viewport: { width: 1280, height: 860 },
      args: CHROMIUM_ARGS,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const errors: (string | (() => string))[] = [];
  let refusals: number[] = [];
  return {
    takeErrors: () => errors.splice(0).map((error) => (typeof error === 'string' ? error : error())),
    expectRefusals(statuses) {
      refusals = statuses;
    },
    async openPage() {
      const page = await context.newPage();
      // What another origin (Keycloak) answered with a 4xx or 5xx, and to which request, so an
      // error names the cause (e.g. Keycloak's invalid_grant and its description), not only the status.
      const refusedAnswers = new Map<string, string>();
      page.on('response', (response) => {
        const url = response.url();
        if (response.status() < 400 || url.startsWith(baseUrl)) return;
        const request = response.request();
        const grant = new URLSearchParams(request.postData() ?? '').get('grant_type');
        const answer = `${request.method()}${grant ? ` grant_type=${grant}` : ''} answered ${response.status()}`;
        refusedAnswers.set(url, answer);
        // The body (Keycloak's error and description) when the browser still has it in time.
        void response
          .text()
          .then((body) => body && refusedAnswers.set(url, `${answer}: ${body.slice(0, 300)}`))
          .catch(() => undefined);
      });
      page.on('console', (message) => {
        if (message.type() !== 'error') return;
        if (refusals.some((status) => message.text().includes(`status of ${status}`))) return;
        // A failed load names the page, not the resource: the message's location does.
        const source = message.location().url;
        const error = `${page.url()}: ${message.text()}${source && source !== page.url() ? ` (${source})` : ''}`;
        if (source && options.foreignPages?.some((origin) => source.startsWith(origin)))
          // eslint-disable-next-line no-console -- printed for whoever reads a run's output
          return void console.log(`not failing the test, logged for ${source}: ${error}`);
        // The answer's body is read after the message arrives: it is looked up when errors are taken.
        errors.push(() => {
          const answer = source ? refusedAnswers.get(source) : undefined;
          return answer ? `${error} [${answer}]` : error;
        });
      });
      page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
      page.on('request', (request) => {
        const url = request.url();
        if (!allowed.some((origin) => url.startsWith(origin)) && !url.startsWith('data:'))
          errors.push(`request to another host: ${url}`);
      });
      return page;
    },
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in on the console's form and waits for the first page the user may read. */
export async function signIn(
  page: Page,
  baseUrl: string,
  username: string,
  password: string,
  firstPage = 'Overview',
): Promise<void> {
  await page.goto(`${baseUrl}/console`);
  await page.getByLabel('User name or email').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: firstPage }).waitFor();
}

/** axe-core in the page: no serious or critical violation. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  // NOTE: evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not cover.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe;
    const result = await axe.run();
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map(
        (violation) =>
          `${violation.id} (${violation.impact}) at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
      );
  });
  expect({ page: name, violations }).toEqual({ page: name, violations: [] });
}

/** Saves `console-<name>.png` into CONSOLE_SCREENSHOTS when it is set (`fullPage`: the whole page, not only the window). */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`), fullPage: options.fullPage ?? false });
}

// A page whose heading is not its navigation title.
const HEADINGS: Record<string, string> = { Rules: 'Routing rules' };

/** Follows the navigation link `title` and waits for the page at `#/<path>` and its heading. */
export async function go(page: Page, path: string, title: string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: title, exact: true }).click();
  await page.waitForURL(`**/console#/${path}`);
  await page.getByRole('heading', { level: 1, name: HEADINGS[title] ?? title }).waitFor();
}

/** Waits until no part of the page is still loading (the pages mark loading parts aria-busy). */
export async function settled(page: Page): Promise<void> {
  // NOTE: not page.waitForFunction: its polling evaluates a string, which the console's CSP refuses.
  await waitFor('the page to load', async () => (await page.locator('main [aria-busy]').count()) === 0);
}
