import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWireFormat } from '@muxly/common';
import {
  freePort,
  requireLocalStack,
  ServiceProcess,
  stopAllStartedProcesses,
  waitFor,
} from '../../test/support/services.ts';
import { apiEnvelope, collect, connectedProducer, transformerDocument } from './helpers.ts';

beforeAll(async () => {
  await requireLocalStack();
});

afterAll(async () => {
  await stopAllStartedProcesses();
});

test('a read_committed consumer sees every event exactly once although the transformer is SIGKILLed mid-stream', async () => {
  const port = await freePort();
  const document = transformerDocument({ transformer: { health: { port }, chunkSize: 50 } });
  const dir = mkdtempSync(join(tmpdir(), 'muxly-tf-'));
  const configFile = join(dir, 'muxly.json');
  writeFileSync(configFile, JSON.stringify(document));
  const ready = `http://127.0.0.1:${port}/readyz`;
  const start = async () => {
    const service = new ServiceProcess('transformer', { MUXLY_CONFIG: configFile }).start();
    await service.waitUntilReady(ready);
    return service;
  };
  const first = await start();

  // 400 raw records of 10 metrics, written steadily over a few seconds.
  const ids: string[] = [];
  const producer = await connectedProducer();
  const writing = (async () => {
    for (let round = 0; round < 100; round++) {
      const messages = Array.from({ length: 4 }, () => {
        const metrics = Array.from({ length: 10 }, (_, index) => ({
          id: randomUUID(),
          name: 'eos.check',
          value: index,
          timestamp: new Date().toISOString(),
        }));
        ids.push(...metrics.map((metric) => metric.id));
        return { value: JSON.stringify(apiEnvelope(metrics)) };
      });
      await producer.send({ topic: `${document.topics.prefix}raw`, messages, acks: -1 });
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  })();

  const events = await collect(`${document.topics.prefix}events`);
  // What a consumer that ignores transactions sees: records of the killed, aborted transaction too.
  const uncommitted = await collect(`${document.topics.prefix}events`, { readUncommitted: true });
  try {
    await waitFor('the first events', async () => events.records.length >= 300, 30_000, 50);
    // NOTE: SIGKILL, not SIGTERM: no drain, no abort; the open transaction is left to the broker.
    first.child!.kill('SIGKILL');
    expect((await first.exit)!.signal).toBe('SIGKILL');
    const seenAtKill = events.records.length;
    await writing;
    await producer.disconnect();
    expect(seenAtKill).toBeLessThan(ids.length);

    // Same instance id, so the same transactional id: the new producer fences the old one's
    // transaction, and the group resumes from the last committed offsets.
    await start();
    await waitFor('every event', async () => events.records.length >= ids.length, 60_000, 200);
    // Give a duplicate, if any, the chance to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const counts = new Map<string, number>();
    for (const record of events.records) {
      const id = (decodeWireFormat(record.value).value as { id: string }).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const duplicated = [...counts].filter(([, count]) => count > 1);
    expect(duplicated).toEqual([]);
    expect(ids.filter((id) => !counts.has(id))).toEqual([]);
    expect(events.records.length).toBe(ids.length);
    process.stderr.write(
      `exactly-once: ${ids.length} events, killed after ${seenAtKill}; a read_uncommitted consumer saw ${uncommitted.records.length} records\n`,
    );
  } finally {
    await events.stop();
    await uncommitted.stop();
  }
}, 150_000);
