import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '@muxly/common';
import { createForTest, randomSuffix, testItems } from '../test-context.ts';
import { s3Destination } from './index.ts';

// Peer: the local stack's S3-compatible server (S3Mock, any credentials).
const endpoint = process.env.MUXLY_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:9090';
const bucket = `muxly-test-${randomSuffix()}`;
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
const config = { bucket, endpoint, forcePathStyle: true, prefix: 'events/v1', ...credentials };

beforeAll(async () => {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    throw new Error(
      `the S3-compatible server is not reachable at ${endpoint} (${(error as Error).message}); start it with npm run stack:start`,
    );
  }
});
afterAll(() => client.destroy());

async function objects(): Promise<Map<string, unknown[]>> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const result = new Map<string, unknown[]>();
  for (const { Key } of listed.Contents ?? []) {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
    const text = gunzipSync(await object.Body!.transformToByteArray()).toString('utf8');
    result.set(
      Key!,
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    );
  }
  return result;
}

test('writes gzip JSON lines keyed by day, partition and offsets; a redelivery overwrites', async () => {
  const destination = await createForTest(s3Destination, config);
  try {
    await destination.healthcheck();
    const batch = [
      ...testItems(3, { partition: 0, firstOffset: 10 }),
      ...testItems(2, { partition: 4, firstOffset: 7 }),
    ];
    (batch[4]!.event as Record<string, unknown>).receivedAt = '2026-11-24T00:00:01.000Z'; // the next day
    await destination.send(batch);
    await destination.send(batch); // redelivery after a crash before the commit

    const stored = await objects();
    expect([...stored.keys()].sort()).toEqual([
      'events/v1/dt=2026-11-23/muxly.events-0-10-12.jsonl.gz',
      'events/v1/dt=2026-11-23/muxly.events-4-7-7.jsonl.gz',
      'events/v1/dt=2026-11-24/muxly.events-4-8-8.jsonl.gz',
    ]);
    expect(stored.get('events/v1/dt=2026-11-23/muxly.events-0-10-12.jsonl.gz')).toEqual(
      batch.slice(0, 3).map((item) => item.event),
    );
  } finally {
    await destination.close();
  }
});

test('a missing bucket is a configuration error', async () => {
  const destination = await createForTest(s3Destination, { ...config, bucket: `missing-${randomSuffix()}` });
  try {
    await expect(destination.healthcheck()).rejects.toBeInstanceOf(ConfigurationError);
    await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError);
  } finally {
    await destination.close();
  }
});
