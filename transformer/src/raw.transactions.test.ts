import type { OutgoingRecord } from '@muxly/common';
import { piecesOf } from './raw.transactions.ts';

const record = (bytes: number): OutgoingRecord => ({ topic: 't', value: 'x'.repeat(bytes) });

test('records are cut into consecutive pieces of at most the byte cap (64 bytes of overhead each)', () => {
  const pieces = piecesOf([record(36), record(36), record(36), record(500), record(1)], 200);
  expect(pieces.map((piece) => piece.map((item) => (item.value as string).length))).toEqual([[36, 36], [36], [500], [1]]);
  expect(piecesOf([], 100)).toEqual([]);
});
