// Google's JSON error body (https://cloud.google.com/apis/design/errors#http_mapping), shared by
// the BigQuery and GA4 fakes.
export function googleError(code: number, status: string, message: string, reason?: string, domain = 'global') {
  return {
    error: {
      code,
      message,
      ...(reason ? { errors: [{ message, domain, reason }] } : {}),
      status,
    },
  };
}

export const GOOGLE_TOKEN = 'ya29.test-access-token';

export const unauthenticated = () =>
  googleError(
    401,
    'UNAUTHENTICATED',
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
    'authError',
  );

/** Whether an Authorization header carries a bearer token the fake accepts (GOOGLE_TOKEN by default). */
export function acceptsToken(accept: ((token: string) => boolean) | undefined, authorization: string | undefined) {
  const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  if (token === undefined) return false;
  return accept ? accept(token) : token === GOOGLE_TOKEN;
}
