import { Type, type Static } from '@sinclair/typebox';
import { RetryPolicy } from '../toolkit/retry.ts';

export const HubSpotConfig = Type.Object(
  {
    objectType: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'contacts, companies, deals, tickets, or any CRM object type id (e.g. 2-123456).',
    }),
    properties: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Properties to fetch (HubSpot defaults when empty).',
    }),
    dimensions: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Properties copied into the event dimensions.',
    }),
    cursorProperty: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Defaults to lastmodifieddate for contacts, hs_lastmodifieddate otherwise.',
      }),
    ),
    eventName: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Defaults to hubspot.<objectType>.updated.' }),
    ),
    startDate: Type.String({ default: '1970-01-01T00:00:00Z', description: 'Where the first sync starts (RFC 3339).' }),
    lookbackSeconds: Type.Integer({
      minimum: 0,
      default: 300,
      description: 'Re-read this far behind the cursor: search indexing lags writes.',
    }),
    pageSize: Type.Integer({ minimum: 1, maximum: 200, default: 100 }),
    apiBaseUrl: Type.String({
      pattern: '^https?://[^/]+(:\\d+)?$',
      default: 'https://api.hubapi.com',
      description: 'No trailing slash.',
    }),
    retry: RetryPolicy,
  },
  { additionalProperties: false },
);
export type HubSpotConfig = Static<typeof HubSpotConfig>;

/**
 * A private app's access token, or a public app's OAuth client and a user's refresh token
 * (docs/connectors.md "Authentication"); access tokens of public apps are renewed at
 * {apiBaseUrl}/oauth/v1/token.
 */
export const HubSpotCredentials = Type.Union([
  Type.Object(
    { accessToken: Type.String({ minLength: 1, description: 'A private app access token (pat-...).' }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      clientId: Type.String({ minLength: 1, description: "The public app's client id." }),
      clientSecret: Type.String({ minLength: 1, description: "The public app's client secret." }),
      refreshToken: Type.String({
        minLength: 1,
        description: 'The refresh token of the install (from the authorization-code exchange).',
      }),
    },
    { additionalProperties: false },
  ),
]);
export type HubSpotCredentials = Static<typeof HubSpotCredentials>;

export const defaultCursorProperty = (objectType: string): string =>
  objectType === 'contacts' ? 'lastmodifieddate' : 'hs_lastmodifieddate';
