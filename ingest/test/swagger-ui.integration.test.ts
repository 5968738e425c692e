import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test/support/browser.ts';
import { requireLocalStack, waitFor } from '../../test/support/services.ts';
import { collectTopic, ingestSettings, startTestIngest, WRITER_KEY } from './api-helpers.ts';

// Ingest's Swagger UI at /docs in a real headless Chromium (Debian's package): it loads with no
// request to another host, "Authorize" takes an ingest API key through the document's bearer
// scheme, and "Try it out" then posts the document's example metric, which reaches muxly.raw.

let ingest: Awaited<ReturnType<typeof startTestIngest>>;
let raw: Awaited<ReturnType<typeof collectTopic>>;
let browser: Browser;

beforeAll(async () => {
  await requireLocalStack();
  const settings = ingestSettings();
  ingest = await startTestIngest(settings);
  raw = await collectTopic(`${settings.topics.prefix}raw`);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await raw?.stop();
  await ingest?.stop();
});

/** Opens POST /v1/metrics with Try it out, executes it, and answers the status Swagger UI shows. */
async function tryPostMetrics(page: Page): Promise<string> {
  // The document has no tags: Swagger UI files the operation under "default".
  const operation = page.locator('#operations-default-postMetrics');
  await operation.locator('.opblock-summary').first().click();
  await operation.locator('button.try-out__btn').click();
  await operation.locator('button.execute').click();
  const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
  await status.waitFor();
  return (await status.innerText()).trim();
}

test('signs in with an API key through the bearer scheme and posts the example metric with Try it out', async () => {
  const page = await browser.newPage();
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  await page.goto(`${ingest.url}/docs`);
  await page.locator('button.authorize').first().click();
  // The first scheme of the dialog is bearerKey (Authorization: Bearer <key>).
  await page.locator('.auth-container input').first().fill(WRITER_KEY);
  await page.locator('.auth-btn-wrapper button.authorize').first().click();
  await page.locator('button.btn-done').first().click();

  expect(await tryPostMetrics(page)).toBe('202');
  // The example went through the real pipeline entrance: one raw record holds it.
  const [record] = await waitFor(
    'the example metric on the raw topic',
    async () => raw.values.length > 0 && raw.values,
  );
  expect(JSON.parse(record!)).toMatchObject({ format: 'api.metrics.v1', source: { type: 'api', id: 'writer' } });
  expect(requested.some((url) => url === `${ingest.url}/v1/metrics`)).toBe(true);
  // Everything the page loaded came from ingest itself.
  expect(requested.filter((url) => !url.startsWith(ingest.url) && !url.startsWith('data:'))).toEqual([]);
  await page.close();
});

test('without a key, Try it out shows the 401 ingest answers', async () => {
  const page = await browser.newPage();
  await page.goto(`${ingest.url}/docs`);
  expect(await tryPostMetrics(page)).toBe('401');
  await page.close();
});
