import { ConfigurationError, PermanentError, RefusedError, type HttpClient } from '@muxly/common';
import type { CustomHttpConfig, CustomHttpCredentials } from './config.ts';

// Applies the configured authentication to a request. Secrets come from the credentials object
// (stored encrypted by the control plane) and never from the config or the logs.

export interface AuthApplier {
  apply(url: URL, headers: Record<string, string>): Promise<void>;
}

function required(credentials: CustomHttpCredentials, key: keyof CustomHttpCredentials, authType: string): string {
  const value = credentials[key];
  if (value === undefined || value === '')
    throw new ConfigurationError(`auth type ${authType} needs credentials.${key}`);
  return value;
}

export function createAuth(
  config: CustomHttpConfig,
  credentials: CustomHttpCredentials,
  http: HttpClient,
  signal: AbortSignal,
): AuthApplier {
  const auth = config.auth;
  switch (auth.type) {
    case 'none':
      return { apply: async () => {} };
    case 'apiKey': {
      const key = required(credentials, 'apiKey', auth.type);
      return {
        apply: async (url, headers) => {
          if (auth.in === 'header') headers[auth.name] = key;
          else url.searchParams.set(auth.name, key);
        },
      };
    }
    case 'bearer': {
      const token = required(credentials, 'token', auth.type);
      return { apply: async (_url, headers) => void (headers.authorization = `Bearer ${token}`) };
    }
    case 'basic': {
      const password = required(credentials, 'password', auth.type);
      const encoded = Buffer.from(`${auth.username}:${password}`).toString('base64');
      return { apply: async (_url, headers) => void (headers.authorization = `Basic ${encoded}`) };
    }
    case 'oauth2ClientCredentials': {
      const secret = required(credentials, 'clientSecret', auth.type);
      let token: { value: string; expiresAt: number } | undefined;
      return {
        apply: async (_url, headers) => {
          if (!token || token.expiresAt <= Date.now()) token = await fetchToken(auth, secret, http, signal);
          headers.authorization = `Bearer ${token.value}`;
        },
      };
    }
  }
}

type OAuthConfig = Extract<CustomHttpConfig['auth'], { type: 'oauth2ClientCredentials' }>;

/** RFC 6749 section 4.4: client credentials grant. */
async function fetchToken(
  auth: OAuthConfig,
  secret: string,
  http: HttpClient,
  signal: AbortSignal,
): Promise<{ value: string; expiresAt: number }> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (auth.scope) form.set('scope', auth.scope);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (auth.clientAuthentication === 'body') {
    form.set('client_id', auth.clientId);
    form.set('client_secret', secret);
  } else {
    // RFC 6749 2.3.1: form-urlencode id and secret before base64.
    const pair = `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(secret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  try {
    const response = await http.request({ method: 'POST', url: auth.tokenUrl, headers, body: form.toString(), signal });
    const body = response.json<{ access_token?: unknown; expires_in?: unknown }>();
    if (typeof body.access_token !== 'string')
      throw new ConfigurationError('OAuth2 token endpoint answered without access_token');
    const lifetimeSeconds = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    // Renew a little early so a token does not expire between check and use.
    return { value: body.access_token, expiresAt: Date.now() + Math.max(0, lifetimeSeconds - 30) * 1000 };
  } catch (error) {
    if (error instanceof PermanentError) {
      throw new RefusedError(
        'authenticate',
        `OAuth2 token request refused (HTTP ${error.status ?? '?'}): check clientId, clientSecret and scope`,
      );
    }
    throw error;
  }
}
