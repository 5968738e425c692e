import { randomUUID } from 'node:crypto';
import {
  createTokenEndpoint,
  type FakeTokenEndpoint,
  type TokenEndpointOptions,
} from '../toolkit/testing/oauth-token.fake.ts';
import { startFakeServer, type FakeServer, type Fault } from '../toolkit/testing/fake-server.ts';

// HubSpot CRM v3 search as the public docs describe it: POST /crm/v3/objects/{objectType}/search
// with filterGroups (filters ANDed within a group, groups ORed), sorts, properties, limit (at most
// 200), after; answers { total, results: [{ id, properties (all strings), createdAt, updatedAt,
// archived }], paging: { next: { after, link } } }. Paging stops at 10,000 results (400).
// Errors: { status: 'error', message, correlationId, category }.

export interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface FakeHubSpot extends FakeServer {
  objects: Record<string, HubSpotObject[]>;
  /** The JSON bodies of search requests, in order. */
  searches: { objectType: string; body: SearchBody }[];
  /** The public-app token endpoint at /oauth/v1/token, when started with one. */
  tokens: FakeTokenEndpoint | undefined;
}

interface Filter {
  propertyName: string;
  operator: string;
  value?: string;
}
interface SearchBody {
  filterGroups?: { filters: Filter[] }[];
  sorts?: (string | { propertyName: string; direction?: string })[];
  properties?: string[];
  limit?: number;
  after?: string;
}

export const HUBSPOT_TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555';
/** A private app token without the CRM read scopes: accepted, then every object is refused (403). */
export const HUBSPOT_TOKEN_WITHOUT_SCOPES = 'pat-na1-99999999-8888-7777-6666-555555555555';

export const hubspotError = (category: string, message: string, extra: Record<string, unknown> = {}) => ({
  status: 'error',
  message,
  correlationId: randomUUID(),
  category,
  ...extra,
});

/** The 429 HubSpot sends when the ten-secondly rolling limit is exceeded. */
export const hubspotRateLimited = (retryAfterSeconds?: number): Fault => ({
  path: /\/search$/,
  status: 429,
  headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  body: hubspotError('RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', {
    policyName: 'TEN_SECONDLY_ROLLING',
  }),
});

const asNumber = (value: string | null | undefined): number => {
  if (value === null || value === undefined) return Number.NaN;
  return /^\d+$/.test(value) ? Number(value) : Date.parse(value);
};

function matches(object: HubSpotObject, filter: Filter): boolean {
  const actual = object.properties[filter.propertyName];
  switch (filter.operator) {
    case 'GTE':
      return asNumber(actual) >= asNumber(filter.value);
    case 'GT':
      return asNumber(actual) > asNumber(filter.value);
    case 'LTE':
      return asNumber(actual) <= asNumber(filter.value);
    case 'EQ':
      return actual === filter.value;
    case 'HAS_PROPERTY':
      return actual !== null && actual !== undefined;
    default:
      throw new Error(`operator ${filter.operator} not supported by the fake`);
  }
}

export async function startFakeHubSpot(
  objects: Record<string, HubSpotObject[]>,
  /** With `tokenEndpoint`, also serves POST /oauth/v1/token and accepts the tokens it issues. */
  options: { tokenEndpoint?: TokenEndpointOptions } = {},
): Promise<FakeHubSpot> {
  const searches: FakeHubSpot['searches'] = [];
  let tokens: FakeTokenEndpoint | undefined;
  const server = await startFakeServer((request) => {
    if (request.path === '/oauth/v1/token' && tokens) return tokens.handle(request);
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    if (request.headers.authorization === `Bearer ${HUBSPOT_TOKEN_WITHOUT_SCOPES}`) {
      const objectType = /^\/crm\/v3\/objects\/([^/]+)/.exec(request.path)?.[1] ?? 'objects';
      return {
        status: 403,
        body: hubspotError(
          'MISSING_SCOPES',
          "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
          {
            errors: [
              {
                message: 'One or more of the following scopes are required.',
                context: { requiredGranularScopes: [`crm.objects.${objectType}.read`] },
              },
            ],
            links: { scopes: 'https://developers.hubspot.com/scopes' },
          },
        ),
      };
    }
    if (bearer !== HUBSPOT_TOKEN && !tokens?.accepts(bearer)) {
      return {
        status: 401,
        body: hubspotError(
          'INVALID_AUTHENTICATION',
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        ),
      };
    }
    const match = /^\/crm\/v3\/objects\/([^/]+)\/search$/.exec(request.path);
    if (!match || request.method !== 'POST')
      return { status: 404, body: hubspotError('OBJECT_NOT_FOUND', 'resource not found') };
    const objectType = decodeURIComponent(match[1]!);
    const body = JSON.parse(request.body || '{}') as SearchBody;
    searches.push({ objectType, body });
    const all = objects[objectType];
    if (!all)
      return { status: 400, body: hubspotError('VALIDATION_ERROR', `Unable to infer object type from: ${objectType}`) };
    const limit = body.limit ?? 10;
    if (limit > 200) return { status: 400, body: hubspotError('VALIDATION_ERROR', 'limit must be at most 200') };
    const offset = Number(body.after ?? 0);
    if (offset >= 10_000)
      return { status: 400, body: hubspotError('VALIDATION_ERROR', 'paging past 10000 results is not supported') };
    const groups = body.filterGroups ?? [];
    let found = all.filter(
      (object) =>
        groups.length === 0 || groups.some((group) => group.filters.every((filter) => matches(object, filter))),
    );
    for (const sort of [...(body.sorts ?? [])].reverse()) {
      const name = typeof sort === 'string' ? sort.replace(/^-/, '') : sort.propertyName;
      const descending = typeof sort === 'string' ? sort.startsWith('-') : sort.direction === 'DESCENDING';
      found = [...found].sort(
        (a, b) => (asNumber(a.properties[name]) - asNumber(b.properties[name])) * (descending ? -1 : 1),
      );
    }
    const page = found.slice(offset, offset + limit);
    const wanted =
      body.properties && body.properties.length > 0
        ? new Set([...body.properties, 'hs_object_id', 'createdate', 'lastmodifieddate', 'hs_lastmodifieddate'])
        : undefined;
    const results = page.map((object) => ({
      ...object,
      properties: Object.fromEntries(Object.entries(object.properties).filter(([key]) => !wanted || wanted.has(key))),
    }));
    const next = offset + limit < found.length ? String(offset + limit) : undefined;
    return {
      body: {
        total: found.length,
        results,
        ...(next
          ? {
              paging: {
                next: { after: next, link: `https://api.hubapi.com/crm/v3/objects/${objectType}/search?after=${next}` },
              },
            }
          : {}),
      },
    };
  });
  if (options.tokenEndpoint) tokens = createTokenEndpoint(`${server.url}/oauth/v1/token`, options.tokenEndpoint);
  return Object.assign(server, { objects, searches, tokens });
}

/** A contact as HubSpot returns it (property values are strings). */
export function contact(id: number, lastModified: string, email: string): HubSpotObject {
  return {
    id: String(id),
    properties: {
      hs_object_id: String(id),
      email,
      createdate: '2026-01-01T00:00:00.000Z',
      lastmodifieddate: lastModified,
      lifecyclestage: 'lead',
    },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: lastModified,
    archived: false,
  };
}
