/** What a Muxly HTTP API answered: the status, the headers and the body (parsed JSON, else the text). */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read answers freely
  body: any;
}

export interface ApiRequestOptions {
  /** Sent as JSON; a string is sent as it is (tests of malformed bodies need that). */
  body?: unknown;
  /** A bearer token for the Authorization header. */
  token?: string | undefined;
  headers?: Record<string, string>;
  /** Aborts the request after this long; by default the test's own timeout bounds it. */
  timeoutMs?: number;
}

/**
 * One request to a Muxly HTTP API (the control plane's or ingest's). The one API client of the
 * tests: harnesses and suites wrap it with their base URL and credentials.
 */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  options: ApiRequestOptions = {},
): Promise<ApiAnswer> {
  const { body, token, headers = {}, timeoutMs } = options;
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: the text is the body.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}
