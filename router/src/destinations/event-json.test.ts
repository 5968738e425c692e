import { encodeWireFormat } from '@muxly/common';
import { RoutingTable } from '../pipeline/pipeline.ts';
import { decodeEvent, eventJson } from './event-json.ts';

const wire = (json: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from(json, 'utf8')]);

test('an unchanged event is written as the very bytes it was decoded from', () => {
  // Spacing JSON.stringify would not produce proves the bytes are the source, not a new serialization.
  const source = '{"id":"e1", "name":"café ☕", "value":1.50}';
  const event = decodeEvent(wire(source));
  expect(event).toEqual({ id: 'e1', name: 'café ☕', value: 1.5 });
  expect(eventJson(event).toString('utf8')).toBe(source);
  // The transformer's own records: the same text JSON.stringify gives.
  const written = { id: 'e2', dimensions: { a: 'x"y\n' }, value: 3 };
  expect(eventJson(decodeEvent(encodeWireFormat(9, written))).toString('utf8')).toBe(JSON.stringify(written));
});

test('a transformed event gets its own JSON, and a source spread over several lines is written on one', () => {
  const table = RoutingTable.compile([
    {
      id: 'tag',
      priority: 100,
      enabled: true,
      stopOnMatch: false,
      destinationIds: ['file'],
      transformations: [{ type: 'set' as const, path: '$.tag', value: 'yes' }],
    },
  ]);
  const event = decodeEvent(wire('{"id":"e1","name":"n","value":1}'));
  const decision = table.decide(event, 'file');
  if (decision.routed !== true) throw new Error('not routed');
  expect(JSON.parse(eventJson(decision.event).toString('utf8'))).toEqual({ id: 'e1', name: 'n', value: 1, tag: 'yes' });

  const pretty = decodeEvent(wire('{\n  "id": "e3",\n  "value": 2\n}'));
  expect(eventJson(pretty).toString('utf8')).toBe('{"id":"e3","value":2}');
});
