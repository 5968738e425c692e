import type { TemplateExample } from '@muxly/schemas';

export const customHttpExamples: TemplateExample[] = [
  {
    id: 'custom-http-orders-api',
    title: 'Orders from a JSON API with a bearer token',
    description:
      'Every 10 minutes, GETs the orders updated since the stored cursor from a paginated JSON API (cursor pagination), as records keyed by order id.',
    config: {
      auth: { type: 'bearer' },
      pagination: { type: 'cursor', nextPath: '$.meta.next', param: 'cursor' },
      recordSelector: '$.data[*]',
      cursorPath: '$.updated_at',
      startCursor: '2026-01-01T00:00:00Z',
      mapping: {
        kind: 'record',
        name: 'order.updated',
        idPath: '$.id',
        dimensions: { status: '$.status', currency: '$.currency' },
        entityType: 'order',
      },
    },
    job: { schedule: '*/10 * * * *' },
    request: {
      name: 'Orders API',
      config: { url: 'https://api.example.com/v1/orders?updated_since={{cursor}}' },
      credentials: { token: 'replace-with-the-api-token' },
    },
  },
];
