import type { TemplateExample } from '@muxly/schemas';

export const ga4Examples: TemplateExample[] = [
  {
    id: 'ga4-daily-sessions-by-country',
    title: 'GA4 daily sessions by country',
    description:
      'Reads sessions and active users per day and country from a GA4 property every morning, re-reading the last 3 days GA4 still revises.',
    config: { dimensions: ['country'], metrics: ['sessions', 'activeUsers'], initialDays: 30, lookbackDays: 3 },
    job: { schedule: '0 6 * * *', timezone: 'UTC' },
    request: {
      name: 'GA4 sessions by country',
      config: { propertyId: '123456789' },
      credentials: {
        serviceAccountKey: {
          type: 'service_account',
          client_email: 'muxly-reader@my-project.iam.gserviceaccount.com',
          private_key: '-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n',
          token_uri: 'https://oauth2.googleapis.com/token',
        },
      },
    },
  },
];
