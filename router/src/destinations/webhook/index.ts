import type { DestinationPlugin } from '../destination.ts';
import { urlEndpoint } from '../endpoint.ts';
import { WebhookDestinationConfig } from './config.ts';
import { webhookExamples } from './examples.ts';

export const webhookDestination = {
  type: 'webhook',
  description:
    'POSTs events as JSON, signed in the Standard Webhooks style (webhook-id, webhook-timestamp, webhook-signature), optionally in batches.',
  configSchema: WebhookDestinationConfig,
  // Headers usually carry an Authorization value, so they are a credential too.
  secrets: ['secret', 'headers'],
  healthCheckProves: {
    authenticate: { unproven: 'the receiver checks the signature and headers on delivery; the test sends no event' },
    permission: { unproven: 'the receiver decides on delivery' },
    check: { proves: 'the receiver answered a HEAD request; no event was sent' },
  },
  endpoint: (config) => urlEndpoint(config.url, 'url'),
  examples: webhookExamples,
  maxBatchSize: 1000,
  create: async (config, context) =>
    (await import('./webhook.destination.ts')).createWebhookDestination(config, context),
} satisfies DestinationPlugin<WebhookDestinationConfig>;
