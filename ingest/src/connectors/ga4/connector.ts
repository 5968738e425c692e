import type { BetaAnalyticsDataClient, protos } from '@google-analytics/data';
import type { ConnectorRecord } from '@muxly/schemas';
import type { ConnectorContext, ConnectorCursor, ConnectorPage, ConnectorPlugin } from '../connector.ts';
import { GoogleCredentials } from '../bigquery/config.ts';
import { CHECK_RETRY, runProbes } from '../toolkit/check.ts';
import { googleAuth, type GoogleAuth } from '../toolkit/google-auth.ts';
import { metricName, recordId } from '../toolkit/records.ts';
import { withRetry } from '../toolkit/retry.ts';
import { Ga4Config } from './config.ts';
import { mapGa4Error } from './errors.ts';

// Google Analytics 4 through the official Data API client: runReport over a date window that
// starts `lookbackDays` before the last synced date, paged by offset/limit, ordered by date.
// Every (row, metric) becomes one metric event.

const SOURCE = 'ga4';
const DAY_MS = 86_400_000;
const SCOPE = 'https://www.googleapis.com/auth/analytics.readonly';

type Report = protos.google.analytics.data.v1beta.IRunReportResponse;

// NOTE: the SDK is imported when a sync or check first needs it, not at start: the Google and
// HubSpot clients cost ingest about 80 MB of memory, kept only by the processes that use them.
async function createClient(
  config: Ga4Config,
  credentials: GoogleCredentials,
  context: ConnectorContext,
): Promise<{ client: BetaAnalyticsDataClient; auth: GoogleAuth }> {
  const { BetaAnalyticsDataClient } = await import('@google-analytics/data');
  const endpoint = config.apiEndpoint ? new URL(config.apiEndpoint) : undefined;
  const auth = await googleAuth(credentials, SCOPE, context);
  const client = new BetaAnalyticsDataClient({
    authClient: auth.authClient,
    // NOTE: REST (fallback) in production too, so the transport the tests exercise is the one
    // that runs. A port inside apiEndpoint is ignored by the client: it takes `port` separately.
    fallback: true,
    ...(endpoint
      ? {
          apiEndpoint: endpoint.hostname,
          port: Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80)),
          protocol: endpoint.protocol.replace(':', ''),
        }
      : {}),
  });
  return { client, auth };
}

const isoDate = (time: number): string => new Date(time).toISOString().slice(0, 10);
const fromCompact = (value: string): string => `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;

function reportWindow(config: Ga4Config, cursor: ConnectorCursor, now: Date): { startDate: string; endDate: string } {
  const today = Date.parse(isoDate(now.getTime()));
  const last = typeof cursor?.lastDate === 'string' ? Date.parse(cursor.lastDate) : Number.NaN;
  // The cursor is the last date read completely: start the day after it, minus the lookback.
  const start = Number.isNaN(last)
    ? today - (config.initialDays - 1) * DAY_MS
    : Math.min(today, last + DAY_MS - config.lookbackDays * DAY_MS);
  return { startDate: isoDate(start), endDate: isoDate(today) };
}

function runReport(
  { client, auth }: { client: BetaAnalyticsDataClient; auth: GoogleAuth },
  config: Ga4Config,
  window: { startDate: string; endDate: string },
  offset: number,
  limit: number,
  context: ConnectorContext,
): Promise<Report> {
  const request = {
    property: `properties/${config.propertyId}`,
    dimensions: ['date', ...config.dimensions.filter((name) => name !== 'date')].map((name) => ({ name })),
    metrics: config.metrics.map((name) => ({ name })),
    dateRanges: [window],
    orderBys: [{ dimension: { dimensionName: 'date' } }],
    limit,
    offset,
    keepEmptyRows: false,
  };
  return withRetry(
    `ga4 runReport ${config.propertyId}`,
    // NOTE: no `retry` call option: the client does not retry runReport on its own, so the
    // connector's policy is the only one. The token is fetched inside the retried operation.
    () => auth.call(async () => (await client.runReport(request))[0], mapGa4Error),
    context,
    config.retry,
  );
}

function toRecords(config: Ga4Config, report: Report): { records: ConnectorRecord[]; dates: string[] } {
  const dimensionNames = (report.dimensionHeaders ?? []).map((header) => header.name ?? '');
  const metricNames = (report.metricHeaders ?? []).map((header) => header.name ?? '');
  const records: ConnectorRecord[] = [];
  const dates: string[] = [];
  for (const row of report.rows ?? []) {
    const labels: Record<string, string> = {};
    let date: string | undefined;
    (row.dimensionValues ?? []).forEach((dimension, index) => {
      const name = dimensionNames[index] ?? `dimension${index}`;
      if (name === 'date') date = fromCompact(dimension.value ?? '');
      else labels[name] = dimension.value ?? '';
    });
    if (!date) continue;
    dates.push(date);
    (row.metricValues ?? []).forEach((metric, index) => {
      const value = Number(metric.value);
      if (!Number.isFinite(value)) return;
      const name = metricName(config.metricPrefix, metricNames[index] ?? `metric${index}`);
      records.push({
        // The value is the version: GA4 revises recent days, and a revision is a new event.
        id: recordId(SOURCE, config.propertyId, [name, date, labels], value),
        kind: 'metric',
        name,
        value,
        timestamp: `${date}T00:00:00.000Z`,
        dimensions: { ...labels, ga4_property: config.propertyId },
        attributes: { date },
      });
    });
  }
  return { records, dates };
}

async function* read(
  config: Ga4Config,
  credentials: GoogleCredentials,
  cursor: ConnectorCursor,
  context: ConnectorContext,
): AsyncIterable<ConnectorPage> {
  // NOTE: the client opens its own sockets; an endpoint override is checked against the outbound
  // address guard here (at resolve time) before any request.
  if (config.apiEndpoint) await context.http.assertAllowed(config.apiEndpoint);
  const api = await createClient(config, credentials, context);
  const { client } = api;
  try {
    const window = reportWindow(config, cursor, context.now());
    const stream = `properties/${config.propertyId}`;
    let committed = typeof cursor?.lastDate === 'string' ? cursor.lastDate : undefined;
    for (let offset = 0; ;) {
      const report = await runReport(api, config, window, offset, config.pageSize, context);
      const { records, dates } = toRecords(config, report);
      const rowCount = Number(report.rowCount ?? 0);
      const rows = report.rows?.length ?? 0;
      offset += rows;
      const done = rows === 0 || offset >= rowCount;
      // Rows are ordered by date: every date before this page's last one is complete. The final
      // page completes the window. The cursor never moves backwards.
      const completeThrough = done
        ? window.endDate
        : dates.length > 0
          ? isoDate(Date.parse(dates.at(-1)!) - DAY_MS)
          : undefined;
      if (completeThrough && (committed === undefined || completeThrough > committed)) committed = completeThrough;
      yield { stream, records, cursor: committed === undefined ? cursor : { lastDate: committed } };
      if (done) return;
    }
  } finally {
    await client.close().catch(() => {});
  }
}

export const ga4Connector = {
  type: SOURCE,
  description: 'Google Analytics 4 reports (Data API runReport); rows become metric events.',
  configSchema: Ga4Config,
  credentialsSchema: GoogleCredentials,
  // A one-row report of today with the configured dimensions and metrics proves the credentials
  // (UNAUTHENTICATED), the access to the property (PERMISSION_DENIED) and the report itself
  // (INVALID_ARGUMENT: an unknown dimension or metric).
  check: (config, credentials, context) =>
    runProbes('GA4', [
      {
        step: 'check',
        run: async () => {
          if (config.apiEndpoint) await context.http.assertAllowed(config.apiEndpoint);
          const api = await createClient(config, credentials, context);
          const { client } = api;
          try {
            const today = isoDate(context.now().getTime());
            const report = await runReport(
              api,
              { ...config, retry: CHECK_RETRY },
              { startDate: today, endDate: today },
              0,
              1,
              context,
            );
            return {
              permission: `may read reports of property ${config.propertyId}`,
              check: `a one-row report with the configured dimensions and metrics answered (${Number(report.rowCount ?? 0)} rows today)`,
            };
          } finally {
            await client.close().catch(() => {});
          }
        },
      },
    ]),
  read,
} satisfies ConnectorPlugin<Ga4Config, GoogleCredentials>;
