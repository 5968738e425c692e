import { decodeWireFormat, encodeWireFormat } from './wire-format.ts';

test('the Confluent wire format: magic byte, big-endian schema id, then the UTF-8 JSON (multi-byte text too)', () => {
  const value = { id: 'é-1', name: 'café ☕ 𝄞', value: 1.5 };
  const buffer = encodeWireFormat(258, value);
  expect([...buffer.subarray(0, 5)]).toEqual([0, 0, 0, 1, 2]);
  expect(buffer.subarray(5).toString('utf8')).toBe(JSON.stringify(value));
  expect(buffer.length).toBe(5 + Buffer.byteLength(JSON.stringify(value)));
  expect(decodeWireFormat(buffer)).toEqual({ schemaId: 258, value, json: buffer.subarray(5) });
});

test('a value without the magic byte is refused', () => {
  expect(() => decodeWireFormat(Buffer.from('{"id":"x"}'))).toThrow(/magic byte/);
});
