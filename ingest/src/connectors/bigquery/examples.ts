import type { TemplateExample } from '@muxly/schemas';

export const bigqueryExamples: TemplateExample[] = [
  {
    id: 'bigquery-incremental-table',
    title: 'BigQuery incremental table',
    description:
      'Every hour, reads the rows of a table added or updated since the stored cursor (an updated_at TIMESTAMP column) as metrics, one per row.',
    config: {
      query:
        'SELECT updated_at, plan, country, revenue FROM `my_dataset.daily_revenue` WHERE updated_at > @cursor ORDER BY updated_at',
      cursorColumn: 'updated_at',
      cursorType: 'TIMESTAMP',
      mapping: {
        kind: 'metric',
        name: 'revenue',
        timestampColumn: 'updated_at',
        valueColumn: 'revenue',
        dimensionColumns: ['plan', 'country'],
      },
    },
    job: { schedule: '0 * * * *' },
    request: {
      name: 'BigQuery daily revenue',
      config: { projectId: 'my-project' },
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
