import { decodeWireFormat } from '@muxly/common';

/**
 * The JSON text each event object was decoded from, by object: a destination that writes an
 * event exactly as it came (no rule transformed it) writes those bytes instead of serializing
 * the object again.
 *
 * NOTE (why this is exact): an event object the router decoded is never mutated (rules copy what
 * they transform, and destinations must not write to it), so while it is the very object decoded
 * from these bytes, the bytes are its JSON. A rule that transforms hands on a new object, which
 * is not in the map. JSON.stringify of each event took about a tenth of the router's CPU at
 * 20,000 events/s.
 */
const decodedFrom = new WeakMap<object, Buffer>();

const NEWLINE = 0x0a;

/** Decodes an event from its wire-format record value and remembers the JSON it came from. */
export function decodeEvent(value: Buffer): Record<string, unknown> {
  const { value: event, json } = decodeWireFormat(value);
  // Only an object is an event; a JSON text with a raw newline (pretty-printed by some other
  // writer) is not one line, so it is serialized again like a transformed event.
  if (event !== null && typeof event === 'object' && json.indexOf(NEWLINE) < 0) decodedFrom.set(event, json);
  return event as Record<string, unknown>;
}

/** Serialized once per transformed event object, for every destination that writes it. */
const serialized = new WeakMap<object, Buffer>();

/** The event's JSON on one line (without the newline): the bytes it was decoded from when it is unchanged. */
export function eventJson(event: object): Buffer {
  let json = decodedFrom.get(event) ?? serialized.get(event);
  if (!json) serialized.set(event, (json = Buffer.from(JSON.stringify(event), 'utf8')));
  return json;
}
