import type { Browser } from 'playwright-core';
import { launchChromium } from '../../test/support/browser.ts';
import { ApiProblem } from '../src/http/problem.ts';
import { startHarness, type Harness } from './harness.ts';

// Swagger UI at /docs in a real headless Chromium (Debian's package): it loads with no request to
// another host, "Authorize" takes a bearer token through the document's security scheme, and
// "Try it out" then calls the API with it.

const TOKEN = 'swagger-test-token';

describe('Swagger UI', () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    h = await startHarness({
      // The API answers only to the bearer token, as it would to a signed-in user's.
      authorize: (request) => {
        if (request.get('authorization') !== `Bearer ${TOKEN}`) throw new ApiProblem(401, 'unauthorized', 'sign in');
      },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('signs in through the security scheme and runs a request with Try it out', async () => {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(`${h.baseUrl}/docs`);
    await page.locator('button.authorize').first().click();
    await page.locator('.auth-container input').first().fill(TOKEN);
    await page.locator('.auth-btn-wrapper button.authorize').first().click();
    await page.locator('button.btn-done').first().click();
    const operation = page.locator('#operations-templates-listTemplates');
    await operation.locator('.opblock-summary').first().click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor();
    expect((await status.innerText()).trim()).toBe('200');
    expect(requested.filter((url) => url.includes('/api/v1/templates'))).toEqual([`${h.baseUrl}/api/v1/templates`]);
    // Everything the page loaded came from the service itself.
    expect(requested.filter((url) => !url.startsWith(h.baseUrl) && !url.startsWith('data:'))).toEqual([]);
    await page.close();
  });

  it('without the token, Try it out shows the 401 the API answers', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.baseUrl}/docs`);
    const operation = page.locator('#operations-templates-listTemplates');
    await operation.locator('.opblock-summary').first().click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor();
    expect((await status.innerText()).trim()).toBe('401');
    await page.close();
  });
});
