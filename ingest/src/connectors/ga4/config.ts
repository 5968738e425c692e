import { Type, type Static } from '@sinclair/typebox';
import { RetryPolicy } from '../toolkit/retry.ts';

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_:]+$' });

export const Ga4Config = Type.Object(
  {
    propertyId: Type.String({ pattern: '^[0-9]+$', description: 'The numeric GA4 property id.' }),
    dimensions: Type.Array(Name, {
      default: [],
      maxItems: 8,
      description: 'Report dimensions besides date (added always).',
    }),
    metrics: Type.Array(Name, { minItems: 1, maxItems: 10 }),
    initialDays: Type.Integer({
      minimum: 1,
      maximum: 3650,
      default: 30,
      description: 'Days the first sync reads, up to today.',
    }),
    lookbackDays: Type.Integer({
      minimum: 0,
      maximum: 90,
      default: 3,
      description: 'Days re-read behind the cursor: GA4 revises recent data.',
    }),
    pageSize: Type.Integer({ minimum: 1, maximum: 250_000, default: 10_000 }),
    metricPrefix: Type.String({ default: 'ga4.', pattern: '^[A-Za-z_:]?[A-Za-z0-9_.:/-]*$' }),
    apiEndpoint: Type.Optional(
      Type.String({
        pattern: '^https?://[^/]+$',
        description: 'Override of https://analyticsdata.googleapis.com (proxies, tests).',
      }),
    ),
    retry: RetryPolicy,
  },
  { additionalProperties: false },
);
export type Ga4Config = Static<typeof Ga4Config>;
