import type { TemplateExample } from '@muxly/schemas';

export const databaseExamples: TemplateExample[] = [
  {
    id: 'database-metrics-table',
    title: 'Metrics into a SQL table',
    description:
      'Upserts every metric into a table keyed by event id scoped by its source (PostgreSQL, MySQL or MariaDB), e.g. CREATE TABLE metrics (id varchar(1200) PRIMARY KEY, name text, value double precision, occurred_at timestamptz, dimensions jsonb).',
    config: {
      table: 'metrics',
      columns: { name: '$.name', value: '$.value', occurred_at: '$.timestamp', dimensions: '$.dimensions' },
      onConflict: 'nothing',
    },
    rule: { condition: { path: '$.kind', op: 'eq', value: 'metric' } },
    request: {
      name: 'Metrics table',
      credentials: { connectionString: 'postgres://muxly:password@db.example.com:5432/analytics' },
    },
  },
];
