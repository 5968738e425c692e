// The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the
// serialized value (here UTF-8 JSON). Any Confluent-compatible consumer can decode it.

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

export function encodeWireFormat(schemaId: number, value: unknown): Buffer {
  // The JSON is written straight after the header: one buffer per record, no copy (the
  // transformer encodes every event it writes).
  const json = JSON.stringify(value);
  const buffer = Buffer.allocUnsafe(HEADER_LENGTH + Buffer.byteLength(json, 'utf8'));
  buffer.writeUInt8(MAGIC_BYTE, 0);
  buffer.writeUInt32BE(schemaId, 1);
  buffer.write(json, HEADER_LENGTH, 'utf8');
  return buffer;
}

/** The schema id, the decoded value, and the JSON bytes it was decoded from (a view, not a copy). */
export function decodeWireFormat(buffer: Buffer): { schemaId: number; value: unknown; json: Buffer } {
  if (buffer.length < HEADER_LENGTH || buffer.readUInt8(0) !== MAGIC_BYTE) {
    throw new Error('not in the Confluent wire format (missing magic byte)');
  }
  const json = buffer.subarray(HEADER_LENGTH);
  return { schemaId: buffer.readUInt32BE(1), value: JSON.parse(json.toString('utf8')), json };
}
