import { startFakeServer, type FakeServer, type Fault } from '../toolkit/testing/fake-server.ts';
import { acceptsToken, googleError, unauthenticated } from '../toolkit/testing/google-errors.ts';

// GA4 Data API v1beta runReport as documented, over REST: POST /v1beta/properties/{id}:runReport
// with { dimensions: [{ name }], metrics: [{ name }], dateRanges: [{ startDate, endDate }],
// orderBys, limit, offset } (int64 fields may arrive as strings); answers { dimensionHeaders,
// metricHeaders: [{ name, type }], rows: [{ dimensionValues: [{ value }], metricValues: [{ value }] }],
// rowCount, metadata, kind }. `date` values are YYYYMMDD. The client asks enum-encoding=int, so
// metric types are numbers (TYPE_INTEGER = 1). Quota exhaustion is 429 RESOURCE_EXHAUSTED.

export interface Ga4Row {
  date: string; // YYYY-MM-DD
  country: string;
  activeUsers: number;
  sessions: number;
}

export interface FakeGa4 extends FakeServer {
  rows: Ga4Row[];
  reports: { property: string; body: ReportBody }[];
}

interface ReportBody {
  dimensions?: { name: string }[];
  metrics?: { name: string }[];
  dateRanges?: { startDate: string; endDate: string }[];
  limit?: string | number;
  offset?: string | number;
}

const TYPE_INTEGER = 1;

export const ga4QuotaExhausted = (): Fault => ({
  path: /:runReport$/,
  status: 429,
  body: googleError(
    429,
    'RESOURCE_EXHAUSTED',
    'Exhausted property tokens per hour quota. This property may be in a tokens per hour quota exhausted state.',
  ),
});

export async function startFakeGa4(
  propertyId: string,
  rows: Ga4Row[],
  /** acceptToken: which bearer tokens are valid; GOOGLE_TOKEN only by default. */
  options: { acceptToken?: (token: string) => boolean } = {},
): Promise<FakeGa4> {
  const reports: FakeGa4['reports'] = [];
  const state = { rows };
  const server = await startFakeServer((request) => {
    if (!acceptsToken(options.acceptToken, request.headers.authorization))
      return { status: 401, body: unauthenticated() };
    const match = /^\/v1beta\/properties\/([^/:]+):runReport$/.exec(request.path);
    if (!match || request.method !== 'POST')
      return { status: 404, body: googleError(404, 'NOT_FOUND', 'Requested entity was not found.') };
    if (match[1] !== propertyId) {
      return {
        status: 403,
        body: googleError(403, 'PERMISSION_DENIED', 'User does not have sufficient permissions for this property.'),
      };
    }
    const body = JSON.parse(request.body) as ReportBody;
    reports.push({ property: match[1]!, body });
    const dimensions = (body.dimensions ?? []).map((dimension) => dimension.name);
    const metrics = (body.metrics ?? []).map((metric) => metric.name);
    const unknown = [
      ...dimensions.filter((name) => !['date', 'country'].includes(name)),
      ...metrics.filter((name) => !['activeUsers', 'sessions'].includes(name)),
    ];
    if (unknown.length > 0) {
      return {
        status: 400,
        body: googleError(400, 'INVALID_ARGUMENT', `Field ${unknown[0]} is not a valid dimension or metric.`),
      };
    }
    const range = body.dateRanges?.[0];
    const matching = state.rows
      .filter((row) => !range || (row.date >= range.startDate && row.date <= range.endDate))
      .sort((a, b) => a.date.localeCompare(b.date) || a.country.localeCompare(b.country));
    const offset = Number(body.offset ?? 0);
    const limit = Number(body.limit ?? 10_000);
    const page = matching.slice(offset, offset + limit);
    const cell = (row: Ga4Row, name: string) =>
      name === 'date' ? row.date.replaceAll('-', '') : String(row[name as keyof Ga4Row]);
    return {
      body: {
        dimensionHeaders: dimensions.map((name) => ({ name })),
        metricHeaders: metrics.map((name) => ({ name, type: TYPE_INTEGER })),
        ...(page.length > 0
          ? {
              rows: page.map((row) => ({
                dimensionValues: dimensions.map((name) => ({ value: cell(row, name) })),
                metricValues: metrics.map((name) => ({ value: cell(row, name) })),
              })),
            }
          : {}),
        ...(matching.length > 0 ? { rowCount: matching.length } : {}),
        metadata: { currencyCode: 'USD', timeZone: 'Etc/UTC' },
        kind: 'analyticsData#runReport',
      },
    };
  });
  return Object.assign(server, { rows: state.rows, reports });
}
