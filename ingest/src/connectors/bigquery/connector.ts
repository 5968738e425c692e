import type { BigQuery, Job } from '@google-cloud/bigquery';
import { ConfigurationError } from '@muxly/common';
import type { ConnectorContext, ConnectorCursor, ConnectorPage, ConnectorPlugin } from '../connector.ts';
import { CHECK_RETRY, runProbes } from '../toolkit/check.ts';
import { googleAuth, type GoogleAuth } from '../toolkit/google-auth.ts';
import { withRetry } from '../toolkit/retry.ts';
import { BigQueryConfig, GoogleCredentials } from './config.ts';
import { mapBigQueryError } from './errors.ts';
import { laterValue, mapRow } from './rows.ts';

// BigQuery through the official client: a query job with the @cursor parameter, polled until
// complete, then paged with pageToken. The cursor of a page in the middle of a job names the job
// and the next page token, so a resumed sync continues that job's results (kept by BigQuery for
// about a day) instead of re-running the query; the final page's cursor is the highest value seen.

const SOURCE = 'bigquery';
/** Query jobs need the BigQuery scope (bigquery.readonly cannot create jobs). */
const SCOPE = 'https://www.googleapis.com/auth/bigquery';

interface PendingJob {
  jobId: string;
  location?: string;
  pageToken: string;
  highest?: string;
}

// NOTE: the SDK is imported when a sync or check first needs it, not at start: the Google and
// HubSpot clients cost ingest about 80 MB of memory, kept only by the processes that use them.
async function createClient(
  config: BigQueryConfig,
  credentials: GoogleCredentials,
  context: ConnectorContext,
): Promise<{ client: BigQuery; auth: GoogleAuth }> {
  const { BigQuery } = await import('@google-cloud/bigquery');
  const auth = await googleAuth(credentials, SCOPE, context);
  const client = new BigQuery({
    projectId: config.projectId,
    ...(config.location ? { location: config.location } : {}),
    ...(config.apiEndpoint ? { apiEndpoint: config.apiEndpoint } : {}),
    authClient: auth.authClient,
    // NOTE: the client would retry 429/5xx itself with its own backoff, ignoring Retry-After and
    // multiplying with ours; the connector's withRetry is the only retry layer.
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
  return { client, auth };
}

function call<T>(
  what: string,
  auth: GoogleAuth,
  config: BigQueryConfig,
  context: ConnectorContext,
  operation: () => Promise<T>,
): Promise<T> {
  // The token is fetched inside the retried operation: a token endpoint that is briefly down or
  // rate limited is retried like the API itself.
  return withRetry(`bigquery ${what}`, () => auth.call(operation, mapBigQueryError), context, config.retry);
}

function resumeValue(config: BigQueryConfig, cursor: ConnectorCursor): string {
  const stored = typeof cursor?.value === 'string' ? cursor.value : config.startCursor;
  if (config.cursorType !== 'TIMESTAMP') return stored;
  const parsed = Date.parse(stored);
  if (Number.isNaN(parsed)) throw new ConfigurationError(`bigquery cursor "${stored}" is not a timestamp`);
  return new Date(parsed - config.lookbackSeconds * 1000).toISOString();
}

function cursorParameter(client: BigQuery, config: BigQueryConfig, value: string): unknown {
  if (config.cursorType === 'TIMESTAMP') return client.timestamp(value);
  if (config.cursorType === 'INT64') return client.int(value);
  return value;
}

async function* read(
  config: BigQueryConfig,
  credentials: GoogleCredentials,
  cursor: ConnectorCursor,
  context: ConnectorContext,
): AsyncIterable<ConnectorPage> {
  // NOTE: the client opens its own sockets; an endpoint override is checked against the outbound
  // address guard here (at resolve time) before any request.
  if (config.apiEndpoint) await context.http.assertAllowed(config.apiEndpoint);
  const { client, auth } = await createClient(config, credentials, context);
  const committedValue = typeof cursor?.value === 'string' ? cursor.value : undefined;
  const pending = cursor?.pending as PendingJob | undefined;
  let job: Job;
  let pageToken: string | undefined;
  let highest: string | undefined = committedValue;
  if (pending) {
    context.log.info('resuming bigquery job', { jobId: pending.jobId });
    job = client.job(pending.jobId, pending.location ? { location: pending.location } : {});
    pageToken = pending.pageToken;
    highest = pending.highest ?? committedValue;
  } else {
    const value = resumeValue(config, cursor);
    [job] = await call('create query job', auth, config, context, () =>
      client.createQueryJob({
        query: config.query,
        params: { cursor: cursorParameter(client, config, value) },
        useLegacySql: false,
        ...(config.location ? { location: config.location } : {}),
      }),
    );
  }
  const stream = `${config.projectId}:${config.mapping.name ?? config.mapping.nameColumn ?? 'query'}`;
  for (let polls = 0; ;) {
    let fetched;
    try {
      fetched = await call('get query results', auth, config, context, () =>
        job.getQueryResults({ autoPaginate: false, maxResults: config.pageSize, ...(pageToken ? { pageToken } : {}) }),
      );
    } catch (error) {
      // NOTE: a resumed job's results expire (about a day). Without this fallback the stored
      // cursor would point at a vanished job forever; re-run the query from the committed value.
      if (pending && pageToken === pending.pageToken && error instanceof ConfigurationError) {
        context.log.warn('bigquery job to resume is gone; re-running the query', {
          jobId: pending.jobId,
          error: error.message,
        });
        yield* read(config, credentials, committedValue === undefined ? null : { value: committedValue }, context);
        return;
      }
      throw error;
    }
    const [rows, , response] = fetched;
    if (response?.jobComplete === false) {
      // NOTE: rows are not ready; with autoPaginate off the client hands polling to the caller.
      polls += 1;
      if (polls >= config.maxPollAttempts)
        throw new ConfigurationError(`bigquery job ${job.id} still running after ${polls} polls`);
      await context.sleep(config.pollIntervalMs);
      continue;
    }
    const records = rows.map((row) => mapRow(config, row as Record<string, unknown>));
    for (const row of rows)
      highest = laterValue(config, highest, (row as Record<string, unknown>)[config.cursorColumn]);
    const nextToken = response?.pageToken ?? undefined;
    const nextCursor: ConnectorCursor = nextToken
      ? {
          ...(committedValue === undefined ? {} : { value: committedValue }),
          pending: {
            jobId: job.id!,
            ...(job.location ? { location: job.location } : {}),
            pageToken: nextToken,
            ...(highest ? { highest } : {}),
          },
        }
      : highest === undefined
        ? null
        : { value: highest };
    yield { stream, records, cursor: nextCursor };
    if (!nextToken) return;
    pageToken = nextToken;
  }
}

export const bigqueryConnector = {
  type: SOURCE,
  description: 'A BigQuery SQL query with an @cursor parameter; rows become metrics, events or records.',
  configSchema: BigQueryConfig,
  credentialsSchema: GoogleCredentials,
  // One dry run proves everything a sync needs before it reads: the credentials (401), the right
  // to run query jobs in the project and to read the tables the query names (403 accessDenied),
  // and the query itself (400 invalidQuery, 404 notFound). A dry run reads no data and costs nothing.
  check: (config, credentials, context) =>
    runProbes('BigQuery', [
      {
        step: 'check',
        run: async () => {
          if (config.apiEndpoint) await context.http.assertAllowed(config.apiEndpoint);
          const { client, auth } = await createClient(config, credentials, context);
          const [job] = await call('dry run', auth, { ...config, retry: CHECK_RETRY }, context, () =>
            client.createQueryJob({
              query: config.query,
              params: { cursor: cursorParameter(client, config, resumeValue(config, null)) },
              useLegacySql: false,
              dryRun: true,
              ...(config.location ? { location: config.location } : {}),
            }),
          );
          const bytes = job.metadata?.statistics?.totalBytesProcessed;
          return {
            permission: `may run query jobs in project ${config.projectId} and read the tables the query names`,
            check:
              bytes === undefined
                ? 'the query is valid (dry run)'
                : `the query is valid (dry run), it would process ${bytes} bytes`,
          };
        },
      },
    ]),
  read,
} satisfies ConnectorPlugin<BigQueryConfig, GoogleCredentials>;
