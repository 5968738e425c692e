import type { TemplateExample } from '@muxly/schemas';

export const webhookExamples: TemplateExample[] = [
  {
    id: 'webhook-signups',
    title: 'Signups to a webhook',
    description:
      'POSTs each `signup` event to your endpoint, signed (webhook-id, webhook-signature) so it can verify and deduplicate.',
    config: { batchSize: 1 },
    rule: { condition: { path: '$.name', op: 'eq', value: 'signup' } },
    request: {
      name: 'Signups webhook',
      config: { url: 'https://hooks.example.com/muxly/signups' },
      credentials: { secret: 'whsec_replace_with_a_long_random_secret' },
    },
  },
];
