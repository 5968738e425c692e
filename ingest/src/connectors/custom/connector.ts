import { PermanentError, RefusedError, type HttpResponse } from '@muxly/common';
import type { ConnectorContext, ConnectorCursor, ConnectorPage, ConnectorPlugin } from '../connector.ts';
import { CHECK_RETRY, runProbes, type Probe } from '../toolkit/check.ts';
import { compilePath } from '../toolkit/json-path.ts';
import { withRetry } from '../toolkit/retry.ts';
import { createAuth, type AuthApplier } from './auth.ts';
import { CustomHttpConfig, CustomHttpCredentials } from './config.ts';
import { laterCursor, mapRecord } from './mapping.ts';
import { firstPage, nextPage, type PageState } from './pagination.ts';

// Pulls any JSON HTTP API: URL template, auth, pagination, a record selector and a cursor field.
// All requests go through ctx.http, the guarded client: internal addresses need the service's
// allow-list (docs/security.md).

const SOURCE = 'custom';

function resumeValue(config: CustomHttpConfig, cursor: ConnectorCursor): string | number | undefined {
  const stored = cursor?.value;
  const value = typeof stored === 'string' || typeof stored === 'number' ? stored : config.startCursor;
  if (value === undefined || config.lookbackSeconds === 0 || typeof value !== 'string') return value;
  const parsed = Date.parse(value);
  // Only timestamp cursors can look back; opaque tokens are used as they are.
  return Number.isNaN(parsed) ? value : new Date(parsed - config.lookbackSeconds * 1000).toISOString();
}

function render(template: string, values: Record<string, string>, encode: (text: string) => string): string {
  return template.replace(/\{\{\s*(cursor|now)\s*\}\}/g, (_match, name: string) => encode(values[name] ?? ''));
}

async function fetchPage(
  config: CustomHttpConfig,
  state: PageState,
  auth: AuthApplier,
  body: string | undefined,
  headers: Record<string, string>,
  context: ConnectorContext,
): Promise<HttpResponse> {
  return withRetry(
    `${config.method} ${state.url.host}`,
    async () => {
      const url = new URL(state.url);
      const requestHeaders: Record<string, string> = { accept: 'application/json', ...headers };
      if (body !== undefined) requestHeaders['content-type'] ??= 'application/json';
      await auth.apply(url, requestHeaders);
      try {
        return await context.http.request({
          method: config.method,
          url,
          headers: requestHeaders,
          body,
          signal: context.signal,
        });
      } catch (error) {
        if (error instanceof PermanentError && error.status === 401) {
          throw new RefusedError(
            'authenticate',
            `${url.host} refused the credentials (HTTP 401): check the connector's auth settings`,
          );
        }
        if (error instanceof PermanentError && error.status === 403) {
          throw new RefusedError(
            'permission',
            `${url.host} denied access (HTTP 403): the credentials lack the rights this request needs`,
          );
        }
        throw error;
      }
    },
    context,
    config.retry,
  );
}

async function* read(
  config: CustomHttpConfig,
  credentials: CustomHttpCredentials,
  cursor: ConnectorCursor,
  context: ConnectorContext,
): AsyncIterable<ConnectorPage> {
  const syncTime = context.now();
  const start = resumeValue(config, cursor);
  const values = { cursor: start === undefined ? '' : String(start), now: syncTime.toISOString() };
  const url = new URL(render(config.url, values, encodeURIComponent));
  const headers = Object.fromEntries(
    Object.entries(config.headers).map(([name, value]) => [name, render(value, values, (text) => text)]),
  );
  const body =
    config.body === undefined ? undefined : render(config.body, values, (text) => JSON.stringify(text).slice(1, -1));
  const auth = createAuth(config, credentials, context.http, context.signal);
  const selector = compilePath(config.recordSelector);
  const cursorPath = config.cursorPath ? compilePath(config.cursorPath) : undefined;

  const stored = cursor?.value;
  let highest: string | number | undefined =
    typeof stored === 'string' || typeof stored === 'number' ? stored : undefined;
  let state: PageState | undefined = firstPage(config, url);
  for (let pages = 0; state !== undefined; pages += 1) {
    if (pages >= config.maxPages) {
      context.log.warn('custom connector stopped at maxPages', { maxPages: config.maxPages });
      break;
    }
    const response = await fetchPage(config, state, auth, body, headers, context);
    const document = response.json();
    const items = selector.all(document);
    const records = items.map((item) => mapRecord(config, SOURCE, item, syncTime));
    if (cursorPath) for (const item of items) highest = laterCursor(highest, cursorPath.first(item));
    const next = nextPage(config, state, response, document, items.length);
    // NOTE: advancing the stored cursor per page is only safe when answers are sorted by the
    // cursor field; otherwise a resume could skip unread rows, so hold it until the last page.
    const advance = config.sortedByCursor || next === undefined;
    yield { stream: config.stream, records, cursor: advance && highest !== undefined ? { value: highest } : cursor };
    state = next;
  }
}

/** The host of a URL template, for messages (a template may not parse before rendering). */
function hostOf(template: string): string {
  try {
    return new URL(template).host;
  } catch {
    return 'the configured URL';
  }
}

export const customHttpConnector = {
  type: SOURCE,
  description: 'Any JSON HTTP API: URL template, auth, pagination, a record selector and a cursor field.',
  configSchema: CustomHttpConfig,
  credentialsSchema: CustomHttpCredentials,
  // The first page, fetched as a sync fetches it, proves the credentials (401), the access
  // (403) and the request (the record selector finds records). OAuth2 client credentials get
  // their own probe first: the token endpoint is where those credentials are checked.
  check: (config, credentials, context) => {
    const auth = config.auth;
    const authenticate: Probe[] =
      auth.type === 'oauth2ClientCredentials'
        ? [
            {
              step: 'authenticate',
              run: async () => {
                await createAuth(config, credentials, context.http, context.signal).apply(new URL(config.url), {});
                return `the token endpoint ${new URL(auth.tokenUrl).host} issued an access token`;
              },
            },
          ]
        : auth.type === 'none'
          ? [{ step: 'authenticate', run: async () => 'auth type none: requests carry no credentials' }]
          : [];
    return runProbes(`the API at ${hostOf(config.url)}`, [
      ...authenticate,
      {
        step: 'check',
        run: async () => {
          const checkConfig = { ...config, pagination: { type: 'none' as const }, retry: CHECK_RETRY };
          const first = await read(checkConfig, credentials, null, context)[Symbol.asyncIterator]().next();
          return {
            check: `the first page answered; the record selector found ${first.done ? 0 : first.value.records.length} records`,
          };
        },
      },
    ]);
  },
  read,
} satisfies ConnectorPlugin<CustomHttpConfig, CustomHttpCredentials>;
