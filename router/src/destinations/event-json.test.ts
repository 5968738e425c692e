import { createLogger, encodeWireFormat } from '@muxly/common';
import { Registry } from 'prom-client';
import { Delivery } from '../delivery/delivery.ts';
import { createRouterMetrics } from '../delivery/router.metrics.ts';
import { RoutingTable } from '../pipeline/pipeline.ts';
import type { DeliveryItem } from './destination.ts';
import { decodeEvent, eventJson } from './event-json.ts';

const wire = (json: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from(json, 'utf8')]);

test('an event read with its JSON is written as those very bytes', () => {
  // Spacing JSON.stringify would not produce proves the bytes are the source, not a new serialization.
  const source = '{"id":"e1", "name":"café ☕", "value":1.50}';
  const decoded = decodeEvent(wire(source));
  expect(decoded.event).toEqual({ id: 'e1', name: 'café ☕', value: 1.5 });
  expect(eventJson(decoded).toString('utf8')).toBe(source);
  // The transformer's own records: the same text JSON.stringify gives.
  const written = { id: 'e2', dimensions: { a: 'x"y\n' }, value: 3 };
  expect(eventJson(decodeEvent(encodeWireFormat(9, written))).toString('utf8')).toBe(JSON.stringify(written));
});

test('without its JSON (a rule changed it), or when that JSON spans lines, the event is serialized on one line', () => {
  expect(eventJson({ event: { id: 'e1', tag: 'yes' } }).toString('utf8')).toBe('{"id":"e1","tag":"yes"}');
  const pretty = decodeEvent(wire('{\n  "id": "e3",\n  "value": 2\n}'));
  expect(eventJson(pretty).toString('utf8')).toBe('{"id":"e3","value":2}');
});

test('a destination gets the bytes the router read only with the event no rule changed', async () => {
  const table = RoutingTable.compile([
    { id: 'plain', priority: 200, enabled: true, stopOnMatch: false, destinationIds: ['file'], transformations: [] },
    {
      id: 'tag',
      priority: 100,
      enabled: true,
      stopOnMatch: false,
      destinationIds: ['tagged'],
      transformations: [{ type: 'set' as const, path: '$.tag', value: 'yes' }],
    },
  ]);
  const received: Record<string, DeliveryItem[]> = {};
  const source = '{"id":"e1", "name":"n", "value":1}';
  for (const destinationId of ['file', 'tagged']) {
    const delivery = new Delivery({
      destinationId,
      eventsTopic: 'muxly.events',
      instance: {
        send: async (batch) => void (received[destinationId] = batch),
        healthcheck: async () => undefined,
        close: async () => undefined,
      },
      maxBatchSize: 100,
      routing: () => table,
      // Nothing here is dead-lettered: a writer that is used fails the test.
      deadLetters: { write: () => Promise.reject(new Error('nothing should be dead-lettered')) } as never,
      backoff: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      metrics: createRouterMetrics(new Registry()),
      logger: createLogger({ service: 'test', silent: true }),
    });
    const message = { offset: '7', key: null, value: wire(source), timestamp: '0', attributes: 0, headers: {} };
    const { event, json } = decodeEvent(message.value);
    await delivery.deliver(
      [{ partition: 0, message: message as never, event, json, decision: table.decide(event, destinationId) }],
      new AbortController().signal,
    );
  }
  expect(eventJson(received.file![0]!).toString('utf8')).toBe(source);
  expect(received.tagged![0]!.json).toBeUndefined();
  expect(JSON.parse(eventJson(received.tagged![0]!).toString('utf8'))).toEqual({
    id: 'e1',
    name: 'n',
    value: 1,
    tag: 'yes',
  });
});
