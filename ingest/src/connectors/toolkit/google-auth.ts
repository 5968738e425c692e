import type { OAuth2Client } from 'google-auth-library';
import type { ConnectorContext } from '../connector.ts';
import {
  fixedToken,
  GOOGLE_TOKEN_URL,
  refreshedToken,
  serviceAccountToken,
  withToken,
  type TokenSource,
} from './oauth.ts';

// How the Google clients authenticate. The access token comes from Muxly's own token source
// (toolkit/oauth.ts) and is handed to the client in an OAuth2Client: google-auth-library signs
// service-account JWTs for a fixed token URL and ignores the key's token_uri, and its requests
// would bypass the outbound address guard. NOTE: always hand the client explicit credentials:
// without them the libraries probe the GCE metadata server and the environment.

export type GoogleCredentialInput =
  | {
      serviceAccountKey: { client_email: string; private_key: string; private_key_id?: string; token_uri: string };
    }
  | { clientId: string; clientSecret: string; refreshToken: string; tokenUrl?: string }
  | { accessToken: string };

export interface GoogleAuth {
  /** Client option for @google-cloud/bigquery and @google-analytics/data. */
  authClient: OAuth2Client;
  /**
   * Runs one client call with a valid token (renewed before it expires, and once more when the API
   * answers 401 with it); `mapError` turns the client's failure into Muxly's error classes.
   */
  call<T>(operation: () => Promise<T>, mapError: (error: unknown) => Error): Promise<T>;
}

function googleTokenSource(
  credentials: GoogleCredentialInput,
  scope: string,
  context: Pick<ConnectorContext, 'http' | 'signal' | 'connectorId' | 'log' | 'saveCredentials'>,
): TokenSource {
  if ('accessToken' in credentials) return fixedToken(credentials.accessToken);
  if ('serviceAccountKey' in credentials) return serviceAccountToken(credentials.serviceAccountKey, scope, context);
  const { tokenUrl = GOOGLE_TOKEN_URL, ...refresh } = credentials;
  return refreshedToken('Google', tokenUrl, refresh, context);
}

export async function googleAuth(
  credentials: GoogleCredentialInput,
  scope: string,
  context: Pick<ConnectorContext, 'http' | 'signal' | 'connectorId' | 'log' | 'saveCredentials'>,
): Promise<GoogleAuth> {
  const source = googleTokenSource(credentials, scope, context);
  // Imported on first use, with the Google SDKs that need it (see the connectors' createClient).
  const { OAuth2Client } = await import('google-auth-library');
  const authClient = new OAuth2Client();
  // The client is given a fresh token before every call (below); should it still find the token
  // expiring mid-call, it asks the same source. (Wall clock on purpose: the library compares it.)
  const hold = (token: string) =>
    authClient.setCredentials({ access_token: token, expiry_date: Date.now() + 10 * 60_000 });
  authClient.refreshHandler = async () => ({
    access_token: await source.token(),
    expiry_date: Date.now() + 10 * 60_000,
  });
  return {
    authClient,
    call: (operation, mapError) =>
      withToken(source, async (token) => {
        hold(token);
        try {
          return await operation();
        } catch (error) {
          throw mapError(error);
        }
      }),
  };
}

/** Google JSON error bodies: { error: { code, message, status, errors: [{ reason }] } }. */
export function googleErrorReasons(error: unknown): string[] {
  const errors = (error as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .map((entry) => (entry as { reason?: unknown }).reason)
    .filter((reason): reason is string => typeof reason === 'string');
}
