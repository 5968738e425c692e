import type { TemplateExample } from '@muxly/schemas';

export const emailExamples: TemplateExample[] = [
  {
    id: 'email-failed-payments',
    title: 'Email on a failed payment',
    description: 'Sends an email for each `payment.failed` event.',
    config: {
      subject: 'Payment failed: {{ $.attributes.customer }}',
      text: 'A payment of {{ $.value }} {{ $.unit }} failed at {{ $.timestamp }}.\n\nEvent {{ $.id }}',
    },
    rule: { condition: { path: '$.name', op: 'eq', value: 'payment.failed' } },
    request: {
      name: 'Failed payments email',
      config: { from: 'muxly@example.com', to: ['billing@example.com'] },
      credentials: { smtp: { host: 'smtp.example.com', port: 587, user: 'muxly', password: 'replace-me' } },
    },
  },
];
