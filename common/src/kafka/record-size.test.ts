import type { OutgoingRecord } from './producer.ts';
import { piecesOf, recordBytes } from './record-size.ts';

const record = (bytes: number): OutgoingRecord => ({ topic: 't', value: 'x'.repeat(bytes) });

test('records are cut into consecutive pieces of at most the byte cap (40 bytes of framing each)', () => {
  const pieces = piecesOf([record(36), record(36), record(36), record(500), record(1)], 200);
  expect(pieces.map((piece) => piece.map((item) => (item.value as string).length))).toEqual([
    [36, 36],
    [36],
    [500],
    [1],
  ]);
  expect(piecesOf([], 100)).toEqual([]);
});

test("a record's key and headers count toward its size", () => {
  const event: OutgoingRecord = {
    topic: 't',
    key: 'k'.repeat(100),
    value: 'v'.repeat(300),
    headers: { 'muxly.event.id': 'i'.repeat(36) },
  };
  expect(recordBytes(event)).toBe(300 + 100 + 40 + 14 + 36 + 10);
  // Two such events (1,000 bytes) exceed a 900-byte cap, though their values alone would fit.
  expect(piecesOf([event, event], 900).map((piece) => piece.length)).toEqual([1, 1]);
});
