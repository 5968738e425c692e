// How the Google clients authenticate. NOTE: always hand the client explicit credentials: without
// them the libraries probe the GCE metadata server and the environment (docs/development.md).

export type GoogleCredentialInput =
  { serviceAccountKey: { client_email: string; private_key: string } } | { accessToken: string };

/** Client options for @google-cloud/bigquery and @google-analytics/data. */
export async function googleAuthOptions(credentials: GoogleCredentialInput): Promise<Record<string, unknown>> {
  if ('accessToken' in credentials) {
    // Imported on first use, with the Google SDKs that need it (see the connectors' createClient).
    const { OAuth2Client } = await import('google-auth-library');
    const authClient = new OAuth2Client();
    // The token's real lifetime is unknown here; an expired one is answered 401 by Google, which
    // stops the sync with a ConfigurationError. (Wall clock on purpose: the library compares it.)
    authClient.setCredentials({ access_token: credentials.accessToken, expiry_date: Date.now() + 3_600_000 });
    return { authClient };
  }
  const { client_email, private_key } = credentials.serviceAccountKey;
  return { credentials: { client_email, private_key } };
}

/** Google JSON error bodies: { error: { code, message, status, errors: [{ reason }] } }. */
export function googleErrorReasons(error: unknown): string[] {
  const errors = (error as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .map((entry) => (entry as { reason?: unknown }).reason)
    .filter((reason): reason is string => typeof reason === 'string');
}
