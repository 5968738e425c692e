import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Producer } from 'kafkajs';
import { encodeWireFormat } from '@muxly/common';

// Test helpers for the tests that run a real router beside the control plane: unified events
// written straight to the events topic, and the event ids a file destination wrote.

/** Writes one unified event named `name` (keyed by its name) and returns its id. */
export async function produceEvent(producer: Producer, eventsTopic: string, name: string): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  const event = {
    id,
    schemaVersion: 1,
    kind: 'event',
    name,
    timestamp: now,
    receivedAt: now,
    source: { type: 'api', id: 'test' },
    dimensions: {},
    attributes: {},
  };
  await producer.send({ topic: eventsTopic, acks: -1, messages: [{ key: name, value: encodeWireFormat(1, event) }] });
  return id;
}

/** The event ids in a JSON-lines file destination's file, in order (none while it does not exist). */
export async function idsInFile(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id);
}
