import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { createLogger } from '@muxly/common';
import type { UnifiedEvent } from '../../docs/examples/consume-events.ts';
import { startIngest } from '../../ingest/src/service.ts';
import { KAFKA_BROKER, REGISTRY_URL, requireLocalStack, ROOT, uniqueName } from '../../test/support/services.ts';
import { startTransformer } from '../src/service.ts';
import { settingsOf, transformerDocument } from './helpers.ts';

// docs/consuming-events.md promises that docs/examples/consume-events.ts works: run it, as a user
// would, against a metric posted through ingest and normalized by the transformer.

const run = promisify(execFile);

beforeAll(async () => {
  await requireLocalStack();
});

test('the consuming example prints the event of a metric posted to ingest', async () => {
  const document = transformerDocument();
  const key = `mxk_${uniqueName('example')}`;
  const settings = settingsOf({
    ...document,
    ingest: {
      http: { port: 0 },
      apiKeys: [{ id: 'docs-example', hash: `sha256:${createHash('sha256').update(key).digest('hex')}` }],
    },
  });
  const logger = createLogger({ service: 'example-test', level: 'error' });
  const ingest = await startIngest(settings, logger);
  const transformer = await startTransformer(settings, logger);
  try {
    const response = await fetch(`http://127.0.0.1:${ingest.port}/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'orders.placed', value: 3, unit: 'count', dimensions: { region: 'eu' } }),
    });
    expect(response.status).toBe(202);
    const [id] = ((await response.json()) as { ids: string[] }).ids;

    const { stdout } = await run(process.execPath, [`${ROOT}/docs/examples/consume-events.ts`], {
      cwd: ROOT,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        KAFKA_BROKERS: KAFKA_BROKER,
        SCHEMA_REGISTRY_URL: REGISTRY_URL,
        TOPIC: `${document.topics.prefix}events`,
        GROUP_ID: uniqueName('example-reader-'),
        FROM_BEGINNING: 'true',
        MAX_EVENTS: '1',
      },
    });
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as UnifiedEvent);
    expect(events).toEqual([
      {
        id,
        schemaVersion: 1,
        kind: 'metric',
        name: 'orders.placed',
        timestamp: expect.stringMatching(/Z$/),
        receivedAt: expect.stringMatching(/Z$/),
        source: { type: 'api', id: 'docs-example' },
        value: 3,
        unit: 'count',
        dimensions: { region: 'eu' },
        attributes: {},
      },
    ]);
  } finally {
    await ingest.stop();
    await transformer.stop();
  }
});
