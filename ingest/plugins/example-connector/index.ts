import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorCursor, ConnectorPage, ConnectorPlugin } from '@muxly/ingest/connector';

// An example connector plugin: it emits one synthetic `heartbeat` metric per interval between
// the cursor and now. It shows the whole contract a plugin implements (type, configSchema,
// check, read yielding pages with cursors) and nothing else; copy this folder to start a plugin.

const Config = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, default: 'example.heartbeat' }),
    intervalSeconds: Type.Integer({ minimum: 1, default: 60 }),
    start: Type.String({
      default: '2026-01-01T00:00:00Z',
      description: 'The first slot of the first sync (RFC 3339).',
    }),
    pageSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
    service: Type.String({ default: 'example', description: 'A dimension on every metric.' }),
  },
  { additionalProperties: false },
);
type Config = Static<typeof Config>;

const TYPE = 'example-heartbeat';

/** Deterministic ids: the same slot always gives the same id, so re-reads deduplicate. */
const idFor = (config: Config, slot: number): string =>
  `${TYPE}-${createHash('sha256').update(`${config.name}|${config.service}|${slot}`).digest('hex').slice(0, 32)}`;

async function* read(
  config: Config,
  _credentials: unknown,
  cursor: ConnectorCursor,
  context: { now(): Date; signal: AbortSignal },
): AsyncIterable<ConnectorPage> {
  const step = config.intervalSeconds * 1000;
  const resume = typeof cursor?.next === 'number' ? cursor.next : Math.ceil(Date.parse(config.start) / step) * step;
  if (Number.isNaN(resume)) throw new Error(`start "${config.start}" is not a date`);
  const end = context.now().getTime();
  let slot = resume;
  while (slot <= end) {
    context.signal.throwIfAborted();
    const records = [];
    for (; slot <= end && records.length < config.pageSize; slot += step) {
      records.push({
        id: idFor(config, slot),
        kind: 'metric' as const,
        name: config.name,
        value: 1,
        timestamp: new Date(slot).toISOString(),
        dimensions: { service: config.service },
        attributes: {},
      });
    }
    yield { stream: config.name, records, cursor: { next: slot } };
  }
}

const connector = {
  type: TYPE,
  description: 'Example plugin: one synthetic heartbeat metric per interval.',
  configSchema: Config,
  check: async (config: Config) => ({
    ok: true,
    steps: [{ name: 'configuration', ok: true, message: `one ${config.name} every ${config.intervalSeconds}s` }],
  }),
  read,
} satisfies ConnectorPlugin<Config, unknown>;

export default connector;
