import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DLQ_HEADERS } from '@muxly/schemas';
import {
  freePort,
  requireLocalStack,
  ServiceProcess,
  stopAllStartedProcesses,
  uniqueName,
  waitFor,
} from '../../test/support/services.ts';
import {
  apiEnvelope,
  collect,
  connectedProducer,
  eventIdOf,
  kafka,
  transformerDocument,
  writeMarkers,
  type Collected,
} from './helpers.ts';

beforeAll(async () => {
  await requireLocalStack();
});

afterAll(async () => {
  await stopAllStartedProcesses();
});

const PARTITIONS = 3;
const MARKER_HEADER = 'muxly.test.marker';

test('SIGKILLed inside an open transaction (events and dead letters), the transformer still writes every event and dead letter exactly once for read_committed readers', async () => {
  const port = await freePort();
  const document = transformerDocument({ transformer: { health: { port } } });
  const { prefix } = document.topics;
  const [rawTopic, eventsTopic, dlqTopic] = [`${prefix}raw`, `${prefix}events`, `${prefix}dlq`];
  const dir = mkdtempSync(join(tmpdir(), 'muxly-tf-'));
  const configFile = join(dir, 'muxly.json');
  writeFileSync(configFile, JSON.stringify(document));
  const start = async () => {
    const service = new ServiceProcess('transformer', { MUXLY_CONFIG: configFile }).start();
    await service.waitUntilReady(`http://127.0.0.1:${port}/readyz`);
    return service;
  };
  let service = await start();

  // About 10,000 metrics/s in raw records of 20, and a record that is not JSON (a dead letter)
  // in every round, so the transformer is always inside a transaction with both kinds.
  const ids: string[] = [];
  let badRecords = 0;
  let writing = true;
  const producer = await connectedProducer();
  const writer = (async () => {
    while (writing) {
      const messages = Array.from({ length: 5 }, () => {
        const metrics = Array.from({ length: 20 }, (_, index) => ({
          id: randomUUID(),
          name: `eos.check.${index % 7}`,
          value: index,
          timestamp: new Date().toISOString(),
        }));
        ids.push(...metrics.map((metric) => metric.id));
        return { value: JSON.stringify(apiEnvelope(metrics)) };
      });
      messages.push({ value: `{not json ${badRecords}` });
      badRecords += 1;
      await producer.send({ topic: rawTopic, messages, acks: -1 });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  const events = await collect(eventsTopic);
  const letters = await collect(dlqTopic);
  // What a reader that ignores transactions sees: the killed, never committed records too.
  const uncommittedEvents = await collect(eventsTopic, { readUncommitted: true });
  const uncommittedLetters = await collect(dlqTopic, { readUncommitted: true });
  const admin = kafka.admin();
  await admin.connect();
  let inOpenTransaction: Collected[] = [];
  try {
    // A kill lands inside a transaction most of the time under this load; each try checks it.
    for (let attempt = 1; attempt <= 8 && inOpenTransaction.length === 0; attempt++) {
      const before = uncommittedEvents.records.length;
      await waitFor(
        'the transformer writing',
        async () => uncommittedEvents.records.length >= before + 2_000,
        60_000,
        20,
      );
      // NOTE: SIGKILL, not SIGTERM: no drain, no abort; the open transaction is left to the broker.
      service.child!.kill('SIGKILL');
      expect((await service.exit)!.signal).toBe('SIGKILL');
      inOpenTransaction = await recordsOfOpenTransactions(admin, [
        { topic: eventsTopic, reader: uncommittedEvents },
        { topic: dlqTopic, reader: uncommittedLetters },
      ]);
      // Same instance id, so the same transactional id: the new producer fences (aborts) the old
      // one's transaction, and the group resumes from the last committed offsets.
      service = await start();
    }
    writing = false;
    await writer;
    expect(inOpenTransaction.length).toBeGreaterThan(0);

    const markers = await writeMarkers(producer, rawTopic, PARTITIONS);
    await producer.disconnect();
    await waitFor(
      'every event and the markers after them',
      async () => {
        const seen = new Set(events.records.map(eventIdOf));
        return ids.every((id) => seen.has(id)) && markers.every((id) => seen.has(id));
      },
      120_000,
      500,
    );
    await waitFor('every dead letter', async () => letters.records.length >= badRecords, 60_000, 200);

    // Exactly once: no event id twice, nothing but the written ids and the markers.
    const counts = new Map<string, number>();
    for (const record of events.records.filter((record) => !record.headers[MARKER_HEADER])) {
      const id = eventIdOf(record)!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
    expect(counts.size).toBe(ids.length + markers.length);
    // Every raw record that is not JSON dead-lettered exactly once.
    const letterSources = letters.records
      .filter((letter) => !letter.headers[MARKER_HEADER])
      .map(
        (letter) => `${letter.headers[DLQ_HEADERS.originalPartition]}:${letter.headers[DLQ_HEADERS.originalOffset]}`,
      );
    expect(new Set(letterSources).size).toBe(letterSources.length);
    expect(letterSources).toHaveLength(badRecords);

    // The killed transaction's records were on the broker, and no read_committed reader got them.
    const committed = new Set([...events.records, ...letters.records].map((record) => position(record)));
    expect(inOpenTransaction.filter((record) => committed.has(position(record)))).toEqual([]);
    process.stderr.write(
      `exactly-once: ${ids.length} events and ${badRecords} dead letters; ${inOpenTransaction.length} records of the killed transaction(s) seen only read_uncommitted\n`,
    );
  } finally {
    writing = false;
    await writer.catch(() => undefined);
    await admin.disconnect();
    await Promise.all([events, letters, uncommittedEvents, uncommittedLetters].map((reader) => reader.stop()));
  }
}, 400_000);

const position = (record: Collected) => `${record.topic}:${record.partition}:${record.offset}`;

/**
 * The records a killed producer left in open transactions: those at or after a partition's last
 * stable offset (what a read_committed ListOffsets answers: the start of its oldest open
 * transaction). A non-transactional marker written after them to every partition proves the
 * read_uncommitted reader has read everything there is.
 */
async function recordsOfOpenTransactions(
  admin: ReturnType<typeof kafka.admin>,
  topics: { topic: string; reader: { records: Collected[] } }[],
): Promise<Collected[]> {
  const producer = await connectedProducer();
  const found: Collected[] = [];
  try {
    for (const { topic, reader } of topics) {
      const partitions = (await admin.fetchTopicOffsets(topic)).map((partition) => partition.partition);
      const marker = uniqueName('marker-');
      await producer.send({
        topic,
        acks: -1,
        messages: partitions.map((partition) => ({ partition, value: marker, headers: { [MARKER_HEADER]: marker } })),
      });
      await waitFor(
        `the markers in ${topic}`,
        async () =>
          partitions.every((partition) =>
            reader.records.some((record) => record.partition === partition && record.headers[MARKER_HEADER] === marker),
          ),
        30_000,
      );
      // Asked after the markers: a commit the coordinator was still completing has moved it on.
      const stable = new Map(
        (await admin.fetchTopicOffsets(topic)).map((partition) => [partition.partition, BigInt(partition.offset)]),
      );
      found.push(
        ...reader.records.filter(
          (record) => !record.headers[MARKER_HEADER] && BigInt(record.offset) >= stable.get(record.partition)!,
        ),
      );
    }
  } finally {
    await producer.disconnect();
  }
  return found;
}
