import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  blockedAddressIn,
  errorMessage,
  guardedAgents,
  outboundGuard,
  PermanentError,
  RefusedError,
  RetryableError,
  ThrottledError,
} from '@muxly/common';
import type { DeliveryItem, DestinationContext, DestinationInstance } from '../destination.ts';
import { eventJsonLines } from '../event-json.ts';
import { resolveConfig } from '../plugin-config.ts';
import { S3DestinationConfig } from './config.ts';

const gzipAsync = promisify(gzip);

/** The UTC day an event belongs to: when Muxly received it, so a redelivery lands on the same key. */
export function eventDay(event: Record<string, unknown>, now: Date = new Date()): string {
  for (const field of ['receivedAt', 'timestamp']) {
    const value = event[field];
    if (typeof value === 'string') {
      const time = Date.parse(value);
      if (!Number.isNaN(time)) return new Date(time).toISOString().slice(0, 10);
    }
  }
  return now.toISOString().slice(0, 10);
}

/**
 * Groups a batch into objects, one per topic, partition and day, keyed
 * `<prefix>/dt=YYYY-MM-DD/<topic>-<partition>-<firstOffset>-<lastOffset>.jsonl.gz`.
 * NOTE: the key derives only from the data, so redelivering the same offsets overwrites the same
 * object instead of adding a duplicate.
 */
export function planObjects(batch: readonly DeliveryItem[], prefix: string): { key: string; indexes: number[] }[] {
  const groups = new Map<string, { topic: string; partition: number; day: string; indexes: number[] }>();
  batch.forEach((item, index) => {
    const day = eventDay(item.event as Record<string, unknown>);
    const id = `${item.topic}\u0000${item.partition}\u0000${day}`;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { topic: item.topic, partition: item.partition, day, indexes: [] }));
    group.indexes.push(index);
  });
  return [...groups.values()].map(({ topic, partition, day, indexes }) => {
    const offsets = indexes.map((index) => BigInt(batch[index]!.offset));
    const first = offsets.reduce((a, b) => (b < a ? b : a));
    const last = offsets.reduce((a, b) => (b > a ? b : a));
    const name = `dt=${day}/${topic}-${partition}-${first}-${last}.jsonl.gz`;
    return { key: prefix === '' ? name : `${prefix}/${name}`, indexes };
  });
}

/** AWS SDK errors mapped to the router's error classes (one place). */
export function classifyS3Error(error: unknown): Error {
  // The outbound address guard refused the peer's address: the configuration must change.
  const blocked = blockedAddressIn(error);
  if (blocked) return blocked;
  const details = error as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { headers?: Record<string, string> };
  };
  const status = details.$metadata?.httpStatusCode;
  const message = `S3: ${details.name ?? 'error'}: ${errorMessage(error)}`;
  // HEAD answers carry no body: the SDK names their errors after the status (Forbidden, NotFound).
  const name = details.name ?? '';
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken'].includes(name)) {
    return new RefusedError('authenticate', `${message} (check the access key id and secret access key)`);
  }
  if (['AccessDenied', 'Forbidden', 'AllAccessDisabled'].includes(name))
    return new RefusedError('permission', `${message} (grant the key access to the bucket)`);
  if (['NoSuchBucket', 'NotFound', 'PermanentRedirect', 'AuthorizationHeaderMalformed'].includes(name)) {
    return new RefusedError('check', `${message} (check bucket, region and endpoint)`);
  }
  if (status === 429 || status === 503 || details.name === 'SlowDown') {
    const retryAfter = Number(details.$response?.headers?.['retry-after']);
    return new ThrottledError(message, {
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      cause: error,
    });
  }
  if (status === undefined || status === 408 || status >= 500) return new RetryableError(message, { cause: error });
  if (status === 403)
    return new RefusedError('permission', `${message} (check the credentials and the key's access to the bucket)`);
  if (status === 404 || status === 301)
    return new RefusedError('check', `${message} (check bucket, region and endpoint)`);
  return new PermanentError(message, { status, cause: error });
}

/** Creates a s3 destination (the descriptor in index.ts imports this module when one is created). */
export async function createS3Destination(
  rawConfig: S3DestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  const config = resolveConfig(S3DestinationConfig, rawConfig, 's3');
  const agents = guardedAgents(outboundGuard(context.outbound), { maxSockets: 50 });
  const client = new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    ...(config.accessKeyId && config.secretAccessKey
      ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
      : {}),
    // The router's retry policy (backoff, jitter, Retry-After, DLQ) owns retries.
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: config.requestTimeoutMs,
      connectionTimeout: 10_000,
      // Every connection goes through the outbound address guard (an endpoint override may name
      // any host), checked on the address connected to.
      httpAgent: agents.http,
      httpsAgent: agents.https,
    },
  });

  return {
    async send(batch) {
      for (const { key, indexes } of planObjects(batch, config.prefix)) {
        // The same JSON lines as the file destination's (an unchanged event as the bytes it was read as).
        const lines = eventJsonLines(indexes.map((index) => batch[index]!));
        const body = await gzipAsync(lines, { level: config.compressionLevel });
        try {
          await client.send(
            new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: body, ContentType: 'application/gzip' }),
            { abortSignal: context.signal },
          );
        } catch (error) {
          throw classifyS3Error(error);
        }
        context.log.debug('s3 object written', {
          destination: context.destinationId,
          key,
          events: indexes.length,
          bytes: body.length,
        });
      }
    },
    async healthcheck() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: config.bucket }));
      } catch (error) {
        throw classifyS3Error(error);
      }
    },
    async close() {
      client.destroy();
    },
  };
}
