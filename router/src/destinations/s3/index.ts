import type { DestinationPlugin } from '../destination.ts';
import { urlEndpoint } from '../endpoint.ts';
import { S3DestinationConfig } from './config.ts';
import { s3Examples } from './examples.ts';

export const s3Destination = {
  type: 's3',
  description:
    'Batches events into gzip JSON-lines objects keyed by date, partition and offsets, on any S3-compatible store.',
  configSchema: S3DestinationConfig,
  secrets: ['secretAccessKey'],
  healthCheckProves: {
    authenticate: { proves: 'S3 accepted the access key' },
    permission: { proves: 'the key may access the bucket (HeadBucket; no object is written by the test)' },
    check: { proves: 'the bucket exists' },
  },
  // Without an endpoint the AWS SDK picks the regional one itself.
  endpoint: (config) => urlEndpoint(config.endpoint, 'endpoint'),
  examples: s3Examples,
  maxBatchSize: 5000,
  create: async (config, context) => (await import('./s3.destination.ts')).createS3Destination(config, context),
} satisfies DestinationPlugin<S3DestinationConfig>;
