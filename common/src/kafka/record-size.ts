import type { OutgoingRecord } from './producer.ts';

/**
 * NOTE: a topic's max.message.bytes (1 MB by default for `muxly.events`) bounds each partition's
 * record batch of a produce request; a larger one is refused (MESSAGE_TOO_LARGE), the transaction
 * aborts and the same records fail again forever. Every produce request stays under this.
 */
export const MAX_SEND_BYTES = 900_000;

const bytesOf = (data: string | Buffer | null | undefined) =>
  data === null || data === undefined ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length;

/**
 * An upper bound of a record's size inside a Kafka record batch: value, key and headers, plus the
 * record's own framing (length, attributes, timestamp and offset deltas, key and value lengths,
 * header count: at most 40 bytes of varints) and each header's two lengths.
 * NOTE: the key and the headers count. Events of one series share a key, hence a partition, so a
 * piece can be one partition's batch; with ~150 bytes of key and id header per event, counting
 * the value alone let a 900 KB piece reach 1.1 MB and the broker refused it (MESSAGE_TOO_LARGE)
 * on every retry.
 */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = bytesOf(record.value) + bytesOf(record.key) + 40;
  const headers = record.headers;
  // NOTE: a loop over the keys, not Object.entries: no array of pairs per record.
  if (headers) for (const name of Object.keys(headers)) bytes += Buffer.byteLength(name) + bytesOf(headers[name]) + 10;
  return bytes;
}

/**
 * Consecutive runs of records of at most `maxBytes` each (a larger record goes alone). `sizes`,
 * when given, holds each record's `recordBytes` already measured.
 */
export function piecesOf(records: OutgoingRecord[], maxBytes: number, sizes?: readonly number[]): OutgoingRecord[][] {
  const pieces: OutgoingRecord[][] = [];
  let piece: OutgoingRecord[] = [];
  let bytes = 0;
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    const size = sizes ? sizes[index]! : recordBytes(record);
    if (piece.length > 0 && bytes + size > maxBytes) {
      pieces.push(piece);
      piece = [];
      bytes = 0;
    }
    piece.push(record);
    bytes += size;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}
