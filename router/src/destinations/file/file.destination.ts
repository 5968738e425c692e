import { rename, stat, type FileHandle } from 'node:fs/promises';
import { ConfigurationError } from '@muxly/common';
import type { DeliveryItem, DestinationContext, DestinationInstance } from '../destination.ts';
import { eventJsonLines } from '../event-json.ts';
import type { FileDestinationConfig } from './config.ts';
import { openForAppend, prepareFolder, targetOf } from './paths.ts';

/**
 * Appends each batch in one write and fsyncs before send() resolves, so a batch counts as
 * delivered (and its offsets are committed) only once it is on disk. A crash between the write
 * and the commit replays the batch: the file destination is at-least-once, with the event id in
 * every line for consumers that deduplicate.
 */
class FileDestination implements DestinationInstance {
  readonly #config: FileDestinationConfig;
  readonly #base: string;
  /** The absolute file under the operator's base folder. */
  readonly #target: string;
  #handle: FileHandle | undefined;
  #size = 0;
  #openedAt = 0;

  constructor(config: FileDestinationConfig, base: string) {
    this.#config = config;
    this.#base = base;
    this.#target = targetOf(base, config.path);
  }

  async send(batch: DeliveryItem[]): Promise<void> {
    const handle = await this.#current();
    const bytes =
      this.#config.format === 'jsonl'
        ? jsonLines(batch)
        : Buffer.from(batch.map((item) => this.#line(item.event)).join(''), 'utf8');
    await handle.write(bytes);
    if (this.#config.fsync) await handle.datasync();
    this.#size += bytes.length;
  }

  #line(event: Record<string, unknown> | object): string {
    return `${(this.#config.csvColumns ?? []).map((column) => csvField(valueAt(event, column))).join(',')}\n`;
  }

  async #current(): Promise<FileHandle> {
    const { rotateBytes, rotateIntervalSeconds } = this.#config;
    const tooBig = rotateBytes > 0 && this.#size >= rotateBytes;
    const tooOld =
      rotateIntervalSeconds > 0 && this.#handle && Date.now() - this.#openedAt >= rotateIntervalSeconds * 1000;
    if (this.#handle && (tooBig || tooOld)) await this.#rotate();
    if (!this.#handle) await this.#open();
    return this.#handle!;
  }

  async #open(): Promise<void> {
    this.#handle = await openForAppend(this.#base, this.#target, this.#config.path);
    const info = await this.#handle.stat();
    this.#size = info.size;
    // An existing file's age counts from its creation, so restarts do not postpone rotation.
    this.#openedAt = info.size > 0 && info.birthtimeMs > 0 ? Math.min(info.birthtimeMs, Date.now()) : Date.now();
    if (this.#config.format === 'csv' && info.size === 0) {
      const header = `${(this.#config.csvColumns ?? []).map(csvField).join(',')}\n`;
      await this.#handle.write(header);
      this.#size += Buffer.byteLength(header);
    }
  }

  async #rotate(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    // NOTE: two rotations within one millisecond would get one name, and rename would replace
    // the first rotated file: a counter keeps every name unique.
    // The rotated file stays beside the current one, in a folder already checked to be inside the base.
    let target = `${this.#target}.${stamp}`;
    for (let counter = 1; await exists(target); counter++) target = `${this.#target}.${stamp}-${counter}`;
    await rename(this.#target, target);
  }

  async healthcheck(): Promise<void> {
    await prepareFolder(this.#base, this.#target, this.#config.path);
  }

  async close(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
  }
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

function valueAt(root: unknown, dotted: string): unknown {
  let current = root;
  for (const key of dotted.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The last batches written, by their first event: their events in order, and the bytes written. */
const batches = new WeakMap<object, { events: readonly object[]; bytes: Buffer }>();

/**
 * The bytes of a batch of JSON lines. NOTE (cost): the destinations of one rule usually get the
 * same events in the same batches (the router hands them out together), so the batch's bytes are
 * joined once and written by each of them: reused only when the batch holds the very same event
 * objects in the same order, else built from the events' lines.
 */
export function jsonLines(batch: readonly Pick<DeliveryItem, 'event' | 'json'>[]): Buffer {
  const first = batch[0]?.event;
  if (first === undefined) return Buffer.alloc(0);
  const known = batches.get(first);
  if (
    known &&
    known.events.length === batch.length &&
    known.events.every((event, index) => event === batch[index]!.event)
  )
    return known.bytes;
  const events = batch.map((item) => item.event);
  // Each event's JSON (the bytes it was read as, when unchanged) and a newline, joined once.
  const bytes = eventJsonLines(batch);
  batches.set(first, { events, bytes });
  return bytes;
}

/**
 * NOTE: a spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (or a tab or carriage
 * return before one) as a formula, and event values come from whoever writes metrics: such a cell
 * gets a leading `'`, which spreadsheets show as text (so -5 is written '-5).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const raw = typeof value === 'object' ? JSON.stringify(value) : String(value);
  const text = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Creates a file destination (the descriptor in index.ts imports this module when one is created). */
export async function createFileDestination(
  config: FileDestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  if (config.format === 'csv' && !config.csvColumns) {
    throw new ConfigurationError('The csv format needs csvColumns', [
      'config.csvColumns is required when config.format is "csv"',
    ]);
  }
  return new FileDestination(config, context.outbound.fileBaseDirectory);
}
