import { createRequire } from 'node:module';
import type * as KafkajsModule from 'kafkajs';

// kafkajs, loaded with three of its helpers replaced by faster ones that give the same results
// (the transformer's CPU profile in docs/performance.md found all three on its hot path).
// NOTE: kafkajs's modules take these helpers with `require` when they load, so a helper can only
// be replaced by putting the replacement into the require cache first. An ESM `import` of kafkajs
// loads it while the importing module is linked, before any module body runs, so the package
// takes kafkajs's values from here (`require` after the replacement) and imports only types from
// 'kafkajs'. Where kafkajs was loaded first (a test importing it, or jest's own module registry),
// nothing is replaced and kafkajs runs its own helpers: slower, the same bytes on the wire.

const require = createRequire(import.meta.url);

interface CachedModule {
  exports: unknown;
}

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;

/**
 * kafkajs's grouping of a send's messages per partition copied the partition's whole list for
 * every message (`[...current, message]`): quadratic, about a thousand copies per event at 900 KB
 * produce requests, and much of the garbage collector's work. Same result, in one pass: the same
 * partitioner calls in the same order, each partition's messages in the order given.
 */
export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: Partitioner;
}): Record<number, unknown[]> {
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition];
    if (current) current.push(message);
    else result[partition] = [message];
  }
  return result;
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), eight tables of 256 entries. */
const CRC_TABLES = (() => {
  const tables = new Int32Array(8 * 256);
  for (let index = 0; index < 256; index++) {
    let crc = index;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    tables[index] = crc;
  }
  for (let index = 0; index < 256; index++) {
    let crc = tables[index]!;
    for (let table = 1; table < 8; table++) {
      crc = tables[crc & 0xff]! ^ (crc >>> 8);
      tables[table * 256 + index] = crc;
    }
  }
  return tables;
})();

/**
 * CRC-32C of a buffer, eight bytes per step instead of kafkajs's one (its checksum of each record
 * batch was 3-4 % of the transformer's CPU). Returns the unsigned value, as kafkajs's does.
 */
export function crc32C(buffer: Uint8Array): number {
  const t = CRC_TABLES;
  let crc = -1;
  let index = 0;
  const length = buffer.length;
  const whole = length - (length % 8);
  while (index < whole) {
    crc ^= buffer[index]! | (buffer[index + 1]! << 8) | (buffer[index + 2]! << 16) | (buffer[index + 3]! << 24);
    crc =
      t[1792 + (crc & 0xff)]! ^
      t[1536 + ((crc >>> 8) & 0xff)]! ^
      t[1280 + ((crc >>> 16) & 0xff)]! ^
      t[1024 + (crc >>> 24)]! ^
      t[768 + buffer[index + 4]!]! ^
      t[512 + buffer[index + 5]!]! ^
      t[256 + buffer[index + 6]!]! ^
      t[buffer[index + 7]!]!;
    index += 8;
  }
  while (index < length) crc = t[(crc ^ buffer[index++]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

interface EncoderInstance {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): EncoderInstance;
  writeVarLong(value: unknown): EncoderInstance;
}

interface EncoderClass {
  new (initialSize?: number): EncoderInstance;
  nextPowerOfTwo(value: number): number;
  prototype: EncoderInstance;
}

/**
 * kafkajs's Encoder, with the same prototype and statics, and three changes that keep every byte
 * it writes:
 * - each record, each header and each layer of a produce request gets its own encoder, whose
 *   buffer was zero-filled (`Buffer.alloc`) at 512 bytes and again at every growth. An encoder
 *   writes every byte before its offset and only ever reads up to it (`buffer` is
 *   `buf.slice(0, offset)`), so the zeroes were never read: buffers come from
 *   `Buffer.allocUnsafe` (small ones from Node's pool, without an allocation each);
 * - a varint (several per record) was built in an array, copied into a new Buffer, then copied
 *   into the encoder: it is written in place, by the same algorithm;
 * - a varlong (each record's timestamp delta) went through 64-bit Long arithmetic even for the
 *   small numbers it is given: a whole number within ±2^30 has the same zigzag encoding as a
 *   32-bit varint, written in place; anything else takes kafkajs's own path.
 */
export function fastEncoder(Encoder: EncoderClass): EncoderClass {
  function FastEncoder(this: { buf: Buffer; offset: number }, initialSize = 511) {
    this.buf = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(initialSize));
    this.offset = 0;
  }
  // Same prototype and statics: `instanceof Encoder` and `Encoder.sizeOfVarInt` still hold.
  FastEncoder.prototype = Encoder.prototype;
  Object.setPrototypeOf(FastEncoder, Encoder);
  const prototype = Encoder.prototype;
  const writeVarLong = prototype.writeVarLong;
  prototype.ensureAvailable = function (this: EncoderInstance, length: number) {
    if (this.offset + length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    }
  };
  prototype.writeUVarInt = function (this: EncoderInstance, value: number) {
    // At most five bytes: after the first, `value >>>= 7` leaves 25 bits.
    this.ensureAvailable(5);
    const buffer = this.buf;
    let offset = this.offset;
    while ((value & 0xffffff80) !== 0) {
      buffer[offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buffer[offset++] = value & 0x7f;
    this.offset = offset;
    return this;
  };
  prototype.writeVarLong = function (this: EncoderInstance, value: unknown) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= -0x40000000 && value < 0x40000000)
      return this.writeUVarInt(value >= 0 ? value * 2 : -value * 2 - 1);
    return writeVarLong.call(this, value);
  };
  return FastEncoder as unknown as EncoderClass;
}

interface RecordEncoder {
  buf: Buffer;
  offset: number;
  writeInt8(value: number): RecordEncoder;
  writeInt16(value: number): RecordEncoder;
  writeInt32(value: number): RecordEncoder;
  writeUInt32(value: number): RecordEncoder;
  writeInt64(value: unknown): RecordEncoder;
  writeVarInt(value: number): RecordEncoder;
  writeVarLong(value: unknown): RecordEncoder;
  writeVarIntString(value: string): RecordEncoder;
  writeVarIntBytes(value: unknown): RecordEncoder;
}
type RecordEncoderClass = (new (initialSize?: number) => RecordEncoder) & {
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
  sizeOfVarIntBytes(value: unknown): number;
};
interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

/**
 * kafkajs's record encoding (record/v0), with the same bytes: the encoder is sized for the record
 * at once (kafkajs's started at 512 bytes and grew, copying, for a larger record) and the headers
 * are written into it directly (kafkajs made an encoder per header and copied each).
 */
export function fastRecord(Encoder: RecordEncoderClass): (args: RecordArgs) => RecordEncoder {
  return ({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }) => {
    const headersArray: { key: string; value: unknown }[] = [];
    for (const headerKey of Object.keys(headers)) {
      const headerValue = headers[headerKey];
      if (!Array.isArray(headerValue)) headersArray.push({ key: headerKey, value: headerValue });
      else for (const one of headerValue as unknown[]) headersArray.push({ key: headerKey, value: one });
    }
    let sizeOfHeaders = Encoder.sizeOfVarInt(headersArray.length);
    for (const header of headersArray) {
      const keySize = Buffer.byteLength(header.key);
      sizeOfHeaders += Encoder.sizeOfVarInt(keySize) + keySize;
      if (header.value === null) sizeOfHeaders += Encoder.sizeOfVarInt(-1);
      else {
        const valueSize = Buffer.byteLength(header.value as string | Buffer);
        sizeOfHeaders += Encoder.sizeOfVarInt(valueSize) + valueSize;
      }
    }
    const sizeOfBody =
      1 +
      Encoder.sizeOfVarLong(timestampDelta) +
      Encoder.sizeOfVarInt(offsetDelta) +
      Encoder.sizeOfVarIntBytes(key) +
      Encoder.sizeOfVarIntBytes(value) +
      sizeOfHeaders;
    const encoder = new Encoder(sizeOfBody + 5)
      .writeVarInt(sizeOfBody)
      .writeInt8(0)
      .writeVarLong(timestampDelta)
      .writeVarInt(offsetDelta)
      .writeVarIntBytes(key)
      .writeVarIntBytes(value)
      .writeVarInt(headersArray.length);
    for (const header of headersArray) encoder.writeVarIntString(header.key).writeVarIntBytes(header.value);
    return encoder;
  };
}

interface RecordBatchArgs {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: number;
  maxTimestamp?: number;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: unknown[];
}
type RecordBatchFunction = (args: RecordBatchArgs) => Promise<RecordEncoder>;

/**
 * kafkajs's uncompressed record batch (recordBatch/v0), with the same bytes: written into one
 * buffer of its exact size, the checksum taken over the body in place. kafkajs built the body in
 * an encoder that grew by doubling (a ~300 KB batch per partition: about ten buffers and their
 * copies), then copied it into a second encoder and that into a third. Compressed or unusual
 * batches go to kafkajs's own function.
 */
export function fastRecordBatch(
  Encoder: RecordEncoderClass,
  original: RecordBatchFunction,
  crc32: (buffer: Buffer) => number,
  fromInt: (value: number) => unknown,
  fromValue: (value: number) => unknown,
): RecordBatchFunction {
  return async (args) => {
    const records = args.records ?? [];
    if ((args.compression ?? 0) !== 0 || records.length === 0 || !records.every((one) => one instanceof Encoder))
      return original(args);
    const {
      firstOffset = fromInt(0),
      firstTimestamp = Date.now(),
      maxTimestamp = Date.now(),
      partitionLeaderEpoch = 0,
      lastOffsetDelta = 0,
      transactional = false,
      producerId = fromValue(-1),
      producerEpoch = 0,
      firstSequence = 0,
    } = args;
    let recordBytes = 0;
    for (const record of records as RecordEncoder[]) recordBytes += record.offset;
    // Body: attributes 2, last offset delta 4, timestamps 8 + 8, producer id 8, epoch 2,
    // first sequence 4, record count 4. Batch: leader epoch 4, magic 1, CRC 4, body.
    const bodyBytes = 40 + recordBytes;
    const batchBytes = 9 + bodyBytes;
    const encoder = new Encoder(0);
    encoder.buf = Buffer.allocUnsafe(12 + batchBytes);
    encoder
      .writeInt64(firstOffset)
      .writeInt32(batchBytes)
      .writeInt32(partitionLeaderEpoch)
      .writeInt8(2)
      .writeUInt32(0)
      .writeInt16(transactional ? 16 : 0)
      .writeInt32(lastOffsetDelta)
      .writeInt64(firstTimestamp)
      .writeInt64(maxTimestamp)
      .writeInt64(producerId)
      .writeInt16(producerEpoch)
      .writeInt32(firstSequence)
      .writeInt32(records.length);
    const buffer = encoder.buf;
    let offset = encoder.offset;
    for (const record of records as RecordEncoder[]) offset += record.buf.copy(buffer, offset, 0, record.offset);
    encoder.offset = offset;
    // The CRC covers the body: from the attributes (after the 21 bytes before them) to the end.
    buffer.writeUInt32BE(crc32(buffer.subarray(21, offset)), 17);
    return encoder;
  };
}

function replaceHelpers(): boolean {
  try {
    const cache = require.cache as Record<string, CachedModule | undefined>;
    const paths = [
      'kafkajs',
      'kafkajs/src/producer/groupMessagesPerPartition.js',
      'kafkajs/src/protocol/recordBatch/crc32C/crc32C.js',
      'kafkajs/src/protocol/encoder.js',
      'kafkajs/src/protocol/recordBatch/record/v0/index.js',
      'kafkajs/src/protocol/recordBatch/v0/index.js',
      'kafkajs/src/protocol/recordBatch/crc32C/index.js',
      'kafkajs/src/utils/long.js',
    ].map((path) => require.resolve(path));
    if (paths.some((path) => cache[path] !== undefined)) return false;
    const [, grouping, checksum, encoder, record, recordBatch, crcIndex, long] = paths as string[] as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // Each module is loaded once, then its cached exports are replaced before kafkajs loads.
    const replacements: [string, (original: unknown) => unknown][] = [
      [grouping, () => groupMessagesPerPartition],
      [checksum, () => crc32C],
      [encoder, (original) => fastEncoder(original as EncoderClass)],
      // These two take the encoder and the checksum replaced above (they load after them).
      [record, () => fastRecord(require(encoder) as RecordEncoderClass)],
      [
        recordBatch,
        (original) => {
          const Long = require(long) as {
            fromInt(value: number): unknown;
            fromValue(value: number): unknown;
          };
          const batch = original as { RecordBatch: RecordBatchFunction; MAGIC_BYTE: number };
          return {
            ...batch,
            RecordBatch: fastRecordBatch(
              require(encoder) as RecordEncoderClass,
              batch.RecordBatch,
              require(crcIndex) as (buffer: Buffer) => number,
              (value) => Long.fromInt(value),
              (value) => Long.fromValue(value),
            ),
          };
        },
      ],
    ];
    for (const [path, replace] of replacements) {
      const original: unknown = require(path);
      const cached = cache[path];
      if (!cached) return false;
      cached.exports = replace(original);
    }
    return true;
  } catch {
    return false;
  }
}

/** True when kafkajs runs with the faster helpers (false: it had been loaded before). */
export const kafkajsHelpersReplaced = replaceHelpers();

const kafkajs = require('kafkajs') as typeof KafkajsModule;
export const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;
