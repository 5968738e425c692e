import { createHttpClient } from '@muxly/common';
import type { DestinationContext, DestinationInstance, SendResult } from '../destination.ts';
import { sendInOrder } from '../send-in-order.ts';
import { resolveConfig } from '../plugin-config.ts';
import { WebhookDestinationConfig } from './config.ts';
import { sign, signingKey, webhookId } from './signature.ts';

const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'host',
]);

/** Creates a webhook destination (the descriptor in index.ts imports this module when one is created). */
export async function createWebhookDestination(
  rawConfig: WebhookDestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  const config = resolveConfig(WebhookDestinationConfig, rawConfig, 'webhook');
  const key = config.secret ? signingKey(config.secret) : undefined;
  const extraHeaders = Object.fromEntries(
    Object.entries(config.headers).filter(([name]) => !RESERVED_HEADERS.has(name.toLowerCase())),
  );
  // The guarded client checks every address at connect time (no DNS-rebinding window) and
  // maps statuses: 408/429/5xx → retryable (429 throttled, Retry-After parsed), other 4xx → permanent.
  const http = createHttpClient({
    allow: context.outbound.allowAddresses,
    timeoutMs: config.timeoutMs,
    userAgent: 'Muxly-Webhook/1',
  });

  const post = async (events: unknown[], ids: string[], traceparent: string | undefined): Promise<void> => {
    const body = JSON.stringify(config.batchSize === 1 ? events[0] : events);
    const id = webhookId(ids);
    const timestamp = Math.floor(Date.now() / 1000);
    await http.request({
      method: 'POST',
      url: config.url,
      body,
      signal: context.signal,
      headers: {
        ...extraHeaders,
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        ...(key ? { 'webhook-signature': sign(key, id, timestamp, body) } : {}),
        // W3C Trace Context: the receiver's spans join the event's trace. A request carrying
        // several events names the first one's (each event's delivery span still records it).
        ...(traceparent ? { traceparent } : {}),
      },
    });
  };

  return {
    async send(batch): Promise<SendResult | void> {
      // One request per batchSize events, in order: a refused request (4xx) is dead-lettered
      // alone; a failing receiver stops the batch there.
      return sendInOrder(batch, {
        peer: 'Webhook',
        signal: context.signal,
        chunkSize: config.batchSize,
        sendChunk: (chunk) =>
          post(
            chunk.map((item) => item.event),
            chunk.map((item) => item.id),
            chunk.find((item) => item.traceparent)?.traceparent,
          ),
      });
    },
    async healthcheck() {
      // Reaching the receiver (through the address guard) is the check; any HTTP answer will do,
      // since receivers often refuse HEAD and a test event would be delivered for real.
      await http.request({
        method: 'HEAD',
        url: config.url,
        headers: extraHeaders,
        acceptStatus: () => true,
        signal: context.signal,
      });
    },
    async close() {
      http.close();
    },
  };
}
