import { startFakeServer, type FakeServer } from '../toolkit/testing/fake-server.ts';
import { acceptsToken, googleError, unauthenticated } from '../toolkit/testing/google-errors.ts';

// BigQuery REST v2 as documented: jobs.insert (POST /bigquery/v2/projects/{p}/jobs) answers a Job
// resource; jobs.getQueryResults (GET /bigquery/v2/projects/{p}/queries/{jobId}) answers
// { kind, schema, jobReference, totalRows, rows: [{ f: [{ v }] }], pageToken, jobComplete }, with
// jobComplete:false while the job runs. All cell values are strings; TIMESTAMP as microseconds
// since the epoch when formatOptions.useInt64Timestamp=true (what the client asks).
// The fake does not parse SQL: it filters its table on `cursorColumn` against the @cursor
// parameter (> or >= as the query says) and orders by that column. A table named missing_* does
// not exist (404 notFound); jobs in another project than `projectId` are denied (403 accessDenied).

export interface Field {
  name: string;
  type: 'STRING' | 'INT64' | 'FLOAT64' | 'TIMESTAMP' | 'DATE' | 'BOOL';
}

export interface FakeBigQuery extends FakeServer {
  rows: Record<string, string | number | boolean | null>[];
  jobs: Map<string, { parameters: unknown[]; query: string; polls: number }>;
}

const encodeCell = (field: Field, value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (field.type === 'TIMESTAMP') return String(Date.parse(String(value)) * 1000);
  return String(value);
};

const parseParameter = (type: string, value: string): number | string => {
  if (type === 'TIMESTAMP') return Date.parse(value.includes('T') ? value : value.replace(' ', 'T'));
  if (type === 'INT64') return Number(value);
  return value;
};

export async function startFakeBigQuery(options: {
  projectId: string;
  schema: Field[];
  rows: Record<string, string | number | boolean | null>[];
  cursorColumn: string;
  /** How many polls answer jobComplete:false before the results are ready. */
  pendingPolls?: number;
  /** Which bearer tokens are valid; GOOGLE_TOKEN only by default. */
  acceptToken?: (token: string) => boolean;
}): Promise<FakeBigQuery> {
  const jobs: FakeBigQuery['jobs'] = new Map();
  const state = { rows: options.rows };
  const server = await startFakeServer((request) => {
    if (!acceptsToken(options.acceptToken, request.headers.authorization))
      return { status: 401, body: unauthenticated() };
    const insert = /^\/bigquery\/v2\/projects\/([^/]+)\/jobs$/.exec(request.path);
    if (insert && request.method === 'POST') {
      const body = JSON.parse(request.body) as {
        jobReference?: { projectId: string; jobId: string; location?: string };
        configuration: { dryRun?: boolean; query: { query: string; queryParameters?: unknown[] } };
      };
      const reference = {
        projectId: insert[1]!,
        jobId: body.jobReference?.jobId ?? `job_${jobs.size + 1}`,
        location: body.jobReference?.location ?? 'US',
      };
      // The token belongs to a principal with jobUser on options.projectId only.
      if (reference.projectId !== options.projectId) {
        return {
          status: 403,
          body: googleError(
            403,
            'PERMISSION_DENIED',
            `Access Denied: Project ${reference.projectId}: User does not have bigquery.jobs.create permission in project ${reference.projectId}.`,
            'accessDenied',
          ),
        };
      }
      const missing = /`?([\w-]+\.[\w-]+\.missing_\w+)`?/.exec(body.configuration.query.query);
      if (missing) {
        return {
          status: 404,
          body: googleError(
            404,
            'NOT_FOUND',
            `Not found: Table ${missing[1]!.replace('.', ':')} was not found in location US`,
            'notFound',
          ),
        };
      }
      if (/SELEC\b|FORM\b/.test(body.configuration.query.query)) {
        return {
          status: 400,
          body: googleError(400, 'INVALID_ARGUMENT', 'Syntax error: Unexpected identifier at [1:1]', 'invalidQuery'),
        };
      }
      if (body.configuration.dryRun) {
        return {
          body: {
            kind: 'bigquery#job',
            jobReference: reference,
            configuration: body.configuration,
            status: { state: 'DONE' },
            statistics: { totalBytesProcessed: '1024', query: { totalBytesProcessed: '1024' } },
          },
        };
      }
      jobs.set(reference.jobId, {
        parameters: body.configuration.query.queryParameters ?? [],
        query: body.configuration.query.query,
        polls: 0,
      });
      return {
        body: {
          kind: 'bigquery#job',
          id: `${reference.projectId}:${reference.location}.${reference.jobId}`,
          selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${reference.projectId}/jobs/${reference.jobId}?location=${reference.location}`,
          jobReference: reference,
          configuration: { ...body.configuration, jobType: 'QUERY' },
          status: { state: 'RUNNING' },
          statistics: { creationTime: String(Date.now()), startTime: String(Date.now()) },
        },
      };
    }
    const results = /^\/bigquery\/v2\/projects\/([^/]+)\/queries\/([^/]+)$/.exec(request.path);
    if (results && request.method === 'GET') {
      const jobId = decodeURIComponent(results[2]!);
      const job = jobs.get(jobId);
      const reference = { projectId: results[1]!, jobId, location: request.query.get('location') ?? 'US' };
      if (!job)
        return {
          status: 404,
          body: googleError(
            404,
            'NOT_FOUND',
            `Not found: Job ${reference.projectId}:${reference.location}.${jobId}`,
            'notFound',
          ),
        };
      job.polls += 1;
      if (job.polls <= (options.pendingPolls ?? 0)) {
        return {
          body: { kind: 'bigquery#getQueryResultsResponse', etag: 'e', jobReference: reference, jobComplete: false },
        };
      }
      const parameter = job.parameters[0] as
        { parameterType: { type: string }; parameterValue: { value: string } } | undefined;
      const field = options.schema.find((candidate) => candidate.name === options.cursorColumn)!;
      const inclusive = />=\s*@cursor/.test(job.query);
      const bound = parameter
        ? parseParameter(parameter.parameterType.type, parameter.parameterValue.value)
        : undefined;
      const key = (row: Record<string, unknown>) => parseParameter(field.type, String(row[options.cursorColumn]));
      const matching = state.rows
        .filter((row) => bound === undefined || (inclusive ? key(row) >= bound : key(row) > bound))
        .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
      const offset = Number(Buffer.from(request.query.get('pageToken') ?? '', 'base64url').toString() || 0);
      const size = Number(request.query.get('maxResults') ?? 100_000);
      const page = matching.slice(offset, offset + size);
      const next =
        offset + size < matching.length ? Buffer.from(String(offset + size)).toString('base64url') : undefined;
      return {
        body: {
          kind: 'bigquery#getQueryResultsResponse',
          etag: 'e',
          schema: {
            fields: options.schema.map((schemaField) => ({
              name: schemaField.name,
              type: schemaField.type,
              mode: 'NULLABLE',
            })),
          },
          jobReference: reference,
          totalRows: String(matching.length),
          ...(next ? { pageToken: next } : {}),
          rows: page.map((row) => ({
            f: options.schema.map((schemaField) => ({ v: encodeCell(schemaField, row[schemaField.name]) })),
          })),
          totalBytesProcessed: '1024',
          jobComplete: true,
          cacheHit: false,
        },
      };
    }
    return { status: 404, body: googleError(404, 'NOT_FOUND', `Not found: URL ${request.path}`, 'notFound') };
  });
  return Object.assign(server, { jobs, rows: state.rows });
}
