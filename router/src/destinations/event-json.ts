import { decodeWireFormat } from '@muxly/common';
import type { DeliveryItem } from './destination.ts';

/**
 * Decodes an event from its wire-format record value; `json` is the JSON text it was decoded from
 * (a view of the record's value, not a copy), which rides along to the destinations as
 * DeliveryItem.json while no rule changes the event.
 */
export function decodeEvent(value: Buffer): { event: Record<string, unknown>; json: Buffer } {
  const { value: event, json } = decodeWireFormat(value);
  return { event: event as Record<string, unknown>, json };
}

const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from('\n');

/** Serialized once per event object, for every destination that writes it. */
const serialized = new WeakMap<object, Buffer>();

/**
 * The event's JSON on one line (without the newline): the bytes it was read as when no rule
 * changed it, else the event serialized.
 *
 * NOTE (cost): JSON.stringify of each event took about a tenth of the router's CPU at 20,000
 * events/s. The bytes read are exact while the item carries them: the router sets
 * DeliveryItem.json only for the very object decoded from them, which nothing mutates (rules copy
 * what they transform). A JSON text with a raw newline (pretty-printed by another writer) is not
 * one line, so it is serialized like a transformed event.
 */
export function eventJson(item: Pick<DeliveryItem, 'event' | 'json'>): Buffer {
  if (item.json && item.json.indexOf(NEWLINE) < 0) return item.json;
  let json = serialized.get(item.event);
  if (!json) serialized.set(item.event, (json = Buffer.from(JSON.stringify(item.event), 'utf8')));
  return json;
}

/** JSON lines (each event's eventJson and a newline), joined in one buffer. */
export function eventJsonLines(items: readonly Pick<DeliveryItem, 'event' | 'json'>[]): Buffer {
  return Buffer.concat(items.flatMap((item) => [eventJson(item), NEWLINE_BYTES]));
}
