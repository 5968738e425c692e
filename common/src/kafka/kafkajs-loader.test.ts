import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { crc32C, fastEncoder, fastRecord, fastRecordBatch, groupMessagesPerPartition } from './kafkajs-loader.ts';

const require = createRequire(import.meta.url);

/** kafkajs 2.2.4's own grouping, as it is written there. */
function kafkajsGrouping({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: Parameters<typeof groupMessagesPerPartition>[0]) {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce<Record<number, unknown[]>>((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition] ?? [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
}

/** CRC-32C bit by bit, straight from the polynomial. */
function bitwiseCrc32C(buffer: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buffer) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('messages are grouped per partition exactly as kafkajs groups them, with the same partitioner calls', () => {
  const messages = Array.from({ length: 1_000 }, (_, index) => ({ key: `k${index % 37}`, value: String(index) }));
  const partitionMetadata = [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }];
  const calls: [unknown[], unknown[]] = [[], []];
  const partitioner = (calls: unknown[]) => (args: { message: unknown }) => {
    calls.push(args.message);
    return Number((args.message as { key: string }).key.slice(1)) % 3;
  };
  const ours = groupMessagesPerPartition({
    topic: 't',
    partitionMetadata,
    messages,
    partitioner: partitioner(calls[0]),
  });
  const theirs = kafkajsGrouping({ topic: 't', partitionMetadata, messages, partitioner: partitioner(calls[1]) });
  expect(ours).toEqual(theirs);
  expect(Object.keys(ours)).toEqual(Object.keys(theirs));
  expect(calls[0]).toEqual(calls[1]);
  expect(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 })).toEqual({});
});

test('the CRC-32C is the Castagnoli checksum for every length and alignment', () => {
  expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
  expect(crc32C(Buffer.alloc(0))).toBe(0);
  const data = randomBytes(4_099);
  for (const [start, end] of [
    [0, 4_099],
    [1, 4_000],
    [3, 10],
    [5, 5],
    [7, 8],
    [0, 64],
    [2, 2_049],
  ] as const) {
    const slice = data.subarray(start, end);
    expect(crc32C(slice)).toBe(bitwiseCrc32C(slice));
  }
  // kafkajs's own checksum agrees (its module, whichever implementation this registry loaded).
  const kafkajsCrc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buffer: Buffer) => number;
  expect(crc32C(data)).toBe(kafkajsCrc(data));
});

test('an encoder on unzeroed buffers writes the same bytes as kafkajs`s own, through growth', () => {
  type Writer = {
    writeInt32(value: number): Writer;
    writeVarIntString(value: string): Writer;
    writeVarIntBytes(value: Buffer | string | null): Writer;
    writeBuffer(value: Buffer): Writer;
    writeVarInt(value: number): Writer;
    writeUVarInt(value: number): Writer;
    writeVarLong(value: unknown): Writer;
    buffer: Buffer;
  };
  const Encoder = require('kafkajs/src/protocol/encoder.js') as new (size?: number) => Writer;
  const write = (encoder: Writer) => {
    for (let index = 0; index < 200; index++)
      encoder
        .writeInt32(index)
        .writeVarIntString(`name-${index}`)
        .writeVarIntBytes(index % 2 ? Buffer.from('x'.repeat(index)) : 'é'.repeat(index))
        .writeVarIntBytes(null)
        .writeBuffer(Buffer.alloc(17, index));
    const numbers = [0, 1, -1, 63, -64, 64, 127, 128, 300, -300, 16_383, 16_384, 2 ** 20, -(2 ** 20)];
    numbers.push(2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40));
    numbers.push(1_796_000_000_000, -1_796_000_000_000, 0x7fffffff, 0xffffffff);
    for (const value of numbers) {
      encoder.writeVarLong(value);
      encoder.writeVarLong(BigInt(value));
      if (Math.abs(value) < 2 ** 31) encoder.writeVarInt(value);
      if (value >= 0 && value <= 0xffffffff) encoder.writeUVarInt(value);
    }
    return encoder.buffer;
  };
  const expected = write(new Encoder());
  // Leave garbage in Node's buffer pool, which the unzeroed buffers come from.
  for (let index = 0; index < 64; index++) Buffer.allocUnsafe(256).fill(0xab);
  const Fast = fastEncoder(Encoder as never) as unknown as new (size?: number) => Writer;
  const fast = new Fast();
  expect(fast).toBeInstanceOf(Encoder);
  expect(write(fast).equals(expected)).toBe(true);
  expect(write(new Fast(2)).equals(expected)).toBe(true);
});

test('records and record batches are encoded byte for byte as kafkajs encodes them', async () => {
  type Encoded = { buffer: Buffer; offset: number };
  const Encoder = require('kafkajs/src/protocol/encoder.js') as Parameters<typeof fastRecord>[0];
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: object) => Encoded;
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
    RecordBatch: (args: object) => Promise<Encoded>;
  };
  const crc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buffer: Buffer) => number;
  const Long = require('kafkajs/src/utils/long.js') as {
    fromInt(value: number): unknown;
    fromValue(value: number): unknown;
  };
  const ourRecord = fastRecord(Encoder);
  const ourBatch = fastRecordBatch(
    Encoder,
    RecordBatch as never,
    crc,
    (value) => Long.fromInt(value),
    (value) => Long.fromValue(value),
  );
  const messages = Array.from({ length: 300 }, (_, index) => ({
    key: index % 5 === 0 ? null : index % 2 ? `key-${index}` : Buffer.from(`k${index}`),
    value: index % 3 ? randomBytes(index * 7) : 'é'.repeat(index * 3),
    headers:
      index % 4 === 0
        ? undefined
        : { 'muxly.event.id': `id-${index}`, traceparent: Buffer.from('00-abc'), many: ['a', Buffer.from('b')] },
    offsetDelta: index,
    timestampDelta: index * 1_000,
  }));
  const theirs = messages.map((message) => Record(message));
  // The batch below takes its own path only for kafkajs encoders (anything else goes to kafkajs).
  expect(theirs.every((record) => record instanceof (Encoder as unknown as typeof Object))).toBe(true);
  const ours = messages.map((message) => ourRecord(message as never));
  for (const [index, record] of ours.entries())
    expect((record as unknown as Encoded).buffer.equals(theirs[index]!.buffer)).toBe(true);
  for (const transactional of [true, false]) {
    const args = {
      records: theirs,
      firstTimestamp: 1_796_000_000_000,
      maxTimestamp: 1_796_000_000_300,
      producerId: Long.fromValue(4_321),
      producerEpoch: 7,
      firstSequence: 99,
      transactional,
      lastOffsetDelta: theirs.length - 1,
    };
    const expected = (await RecordBatch(args)).buffer;
    const actual = (await ourBatch(args as never)) as unknown as Encoded;
    expect(actual.buffer.equals(expected)).toBe(true);
    expect(actual.offset).toBe(expected.length);
  }
});

test('a service process loading the package runs kafkajs with the replaced helpers', () => {
  // NOTE: jest has its own module registry (there kafkajs keeps its own helpers); a plain Node
  // process is what the services run. An ESM import of kafkajs anywhere in the package would
  // load it before the loader and silently undo the replacements: this catches that.
  const index = fileURLToPath(new URL('../index.ts', import.meta.url));
  const loader = fileURLToPath(new URL('./kafkajs-loader.ts', import.meta.url));
  const script = `await import(${JSON.stringify(index)}); const { kafkajsHelpersReplaced } = await import(${JSON.stringify(loader)}); console.log(String(kafkajsHelpersReplaced));`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect(output.trim()).toBe('true');
});
