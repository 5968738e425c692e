import type { TemplateExample } from '@muxly/schemas';

export const s3Examples: TemplateExample[] = [
  {
    id: 's3-event-archive',
    title: 'Archive every event to S3',
    description:
      'Writes every event as gzip JSON lines under archive/, one object per topic, partition, day and offset range: a replayable archive.',
    config: { prefix: 'archive', region: 'us-east-1' },
    rule: {},
    request: {
      name: 'S3 archive',
      config: { bucket: 'my-muxly-archive', accessKeyId: 'AKIAEXAMPLE' },
      credentials: { secretAccessKey: 'replace-with-the-secret-access-key' },
    },
  },
];
