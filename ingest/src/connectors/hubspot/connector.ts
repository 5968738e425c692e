import type { Client } from '@hubspot/api-client';
import { ConfigurationError } from '@muxly/common';
import type { ConnectorRecord } from '@muxly/schemas';
import type { ConnectorContext, ConnectorCursor, ConnectorPage, ConnectorPlugin } from '../connector.ts';
import { CHECK_RETRY, runProbes } from '../toolkit/check.ts';
import { fixedToken, refreshedToken, withToken, type TokenSource } from '../toolkit/oauth.ts';
import { recordId, toLabel, toTimestamp } from '../toolkit/records.ts';
import { withRetry } from '../toolkit/retry.ts';
import { HubSpotConfig, HubSpotCredentials, defaultCursorProperty } from './config.ts';
import { mapHubSpotError } from './errors.ts';

// HubSpot CRM objects through the official client's search API, incremental on the last-modified
// property: filter GTE the cursor, sort ascending, page with `after`.

const SOURCE = 'hubspot';
/** HubSpot's search refuses to page past this many results; the read restarts the query instead. */
const SEARCH_RESULT_CAP = 10_000;

type SearchResponse = Awaited<ReturnType<Client['crm']['objects']['searchApi']['doSearch']>>;
type SimpleObject = SearchResponse['results'][number];

// NOTE: the SDK is imported when a sync or check first needs it, not at start: the Google and
// HubSpot clients cost ingest about 80 MB of memory, kept only by the processes that use them.
async function createClient(
  config: HubSpotConfig,
  credentials: HubSpotCredentials,
  context: ConnectorContext,
): Promise<HubSpotApi> {
  const { Client } = await import('@hubspot/api-client');
  // A public app's access token lives 30 minutes; it is renewed at HubSpot's token endpoint (the
  // same host as the API) and set on the client before each call.
  const tokens: TokenSource =
    'accessToken' in credentials
      ? fixedToken(credentials.accessToken)
      : refreshedToken('HubSpot', `${config.apiBaseUrl}/oauth/v1/token`, credentials, context);
  // NOTE: numberOfApiCallRetries is 0: the client's retry ignores Retry-After, retries only two
  // named 429 bodies, and its setting is process-wide. The connector's withRetry owns retries.
  return { client: new Client({ basePath: config.apiBaseUrl, numberOfApiCallRetries: 0 }), tokens };
}

interface HubSpotApi {
  client: Client;
  tokens: TokenSource;
  /** The token the client holds. */
  token?: string;
}

function search(
  api: HubSpotApi,
  config: HubSpotConfig,
  since: number,
  after: string | undefined,
  context: ConnectorContext,
): Promise<SearchResponse> {
  const cursorProperty = config.cursorProperty ?? defaultCursorProperty(config.objectType);
  const { client, tokens } = api;
  const request = {
    filterGroups: [{ filters: [{ propertyName: cursorProperty, operator: 'GTE', value: String(since) }] }],
    // The documented form of a sort; the generated client types it as string[] but sends it as is.
    sorts: [{ propertyName: cursorProperty, direction: 'ASCENDING' }] as unknown as string[],
    properties: config.properties.length > 0 ? [...new Set([...config.properties, cursorProperty])] : [],
    limit: config.pageSize,
    ...(after === undefined ? {} : { after }),
  };
  return withRetry(
    `hubspot search ${config.objectType}`,
    // The token is fetched inside the retried operation: a token endpoint that is briefly down or
    // rate limited is retried like the API; a 401 renews the token once (withToken).
    () =>
      withToken(tokens, async (token) => {
        // NOTE: setAccessToken rebuilds the client's API objects; only when the token changed.
        if (token !== api.token) {
          client.setAccessToken(token);
          api.token = token;
        }
        try {
          return await client.crm.objects.searchApi.doSearch(config.objectType, request as never);
        } catch (error) {
          throw mapHubSpotError(error);
        }
      }),
    context,
    config.retry,
  );
}

function toRecord(config: HubSpotConfig, object: SimpleObject): ConnectorRecord {
  const cursorProperty = config.cursorProperty ?? defaultCursorProperty(config.objectType);
  const modified = object.properties[cursorProperty] ?? undefined;
  const timestamp = toTimestamp(modified) ?? toTimestamp(object.updatedAt) ?? new Date(0).toISOString();
  const dimensions: Record<string, string | number | boolean> = {};
  for (const name of config.dimensions) {
    const value = toLabel(object.properties[name]);
    if (value !== undefined) dimensions[name] = value;
  }
  return {
    id: recordId(SOURCE, config.objectType, object.id, timestamp),
    kind: 'record',
    name: config.eventName ?? `hubspot.${config.objectType}.updated`,
    timestamp,
    dimensions,
    attributes: {
      properties: object.properties,
      createdAt: toTimestamp(object.createdAt) ?? null,
      updatedAt: toTimestamp(object.updatedAt) ?? null,
      archived: object.archived ?? false,
    },
    entity: { type: config.objectType, id: object.id },
  };
}

function startTime(config: HubSpotConfig, cursor: ConnectorCursor): number {
  const stored = typeof cursor?.lastModified === 'string' ? Date.parse(cursor.lastModified) : Number.NaN;
  if (!Number.isNaN(stored)) return stored - config.lookbackSeconds * 1000;
  const configured = Date.parse(config.startDate);
  if (Number.isNaN(configured)) throw new ConfigurationError(`hubspot startDate "${config.startDate}" is not a date`);
  return configured;
}

async function* read(
  config: HubSpotConfig,
  credentials: HubSpotCredentials,
  cursor: ConnectorCursor,
  context: ConnectorContext,
): AsyncIterable<ConnectorPage> {
  // NOTE: the official client opens its own sockets, so a user-set endpoint is checked against the
  // outbound address guard here (at resolve time, not connect time) before any request.
  await context.http.assertAllowed(config.apiBaseUrl);
  const api = await createClient(config, credentials, context);
  let since = startTime(config, cursor);
  let highest = typeof cursor?.lastModified === 'string' ? cursor.lastModified : undefined;
  let after: string | undefined;
  for (;;) {
    const response = await search(api, config, since, after, context);
    const records = response.results.map((object) => toRecord(config, object));
    for (const record of records) if (highest === undefined || record.timestamp > highest) highest = record.timestamp;
    // Results are sorted ascending by the cursor property, so the page's highest value is safe
    // to resume from (minus the lookback; equal timestamps are re-read, ids dedupe them).
    yield { stream: config.objectType, records, cursor: highest === undefined ? cursor : { lastModified: highest } };
    const next = response.paging?.next?.after;
    if (next === undefined || records.length === 0) return;
    if (Number(next) >= SEARCH_RESULT_CAP) {
      const restartAt = Date.parse(highest ?? '');
      // NOTE: more than 10,000 objects sharing one timestamp cannot be paged; stop, do not loop.
      if (Number.isNaN(restartAt) || restartAt <= since)
        throw new ConfigurationError('hubspot: more than 10,000 objects share one modification time');
      context.log.info('hubspot search reached 10,000 results, restarting from the latest timestamp', {
        objectType: config.objectType,
      });
      since = restartAt;
      after = undefined;
    } else {
      after = next;
    }
  }
}

export const hubspotConnector = {
  type: SOURCE,
  description: 'HubSpot CRM objects (contacts, companies, deals, any object type) through the search API.',
  configSchema: HubSpotConfig,
  credentialsSchema: HubSpotCredentials,
  // One search with limit 1, as a sync makes it, proves the token (401), its CRM read scope for the
  // object type (403 MISSING_SCOPES) and the search itself (400: unknown object type or property).
  check: (config, credentials, context) =>
    runProbes('HubSpot', [
      {
        step: 'check',
        run: async () => {
          await context.http.assertAllowed(config.apiBaseUrl);
          const response = await search(
            await createClient(config, credentials, context),
            { ...config, pageSize: 1, retry: CHECK_RETRY },
            0,
            undefined,
            context,
          );
          return {
            permission: `the token may search ${config.objectType}`,
            check: `${response.total} objects visible`,
          };
        },
      },
    ]),
  read,
} satisfies ConnectorPlugin<HubSpotConfig, HubSpotCredentials>;
