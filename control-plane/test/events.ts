import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { createLogger, encodeWireFormat, topicNames, type MuxlySettings } from '@muxly/common';
import { startRouter, type RouterService } from '@muxly/router';
import { loadTemplates } from '../src/templates/sources.ts';
import { startHarness, type Harness } from './harness.ts';

// Test helpers for the tests that run a real router beside the control plane: unified events
// written straight to the events topic, the event ids a file destination wrote, and the pair started
// together.

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

export interface ControlPlaneWithRouter {
  h: Harness;
  router: RouterService;
  producer: Producer;
  /** The operator's outbound.fileBaseDirectory: file destinations write under it. */
  directory: string;
  eventsTopic: string;
  groupIdPrefix: string;
  close: () => Promise<void>;
}

/**
 * A control plane with the real types and a router beside it, both in this process (the
 * counterpart of test/support/pipeline.ts for tests that drive the control plane's harness).
 * They share one random consumer group prefix, so positions the control plane writes are those
 * the router delivers from. `router` overrides router settings (e.g. quicker retries).
 */
export async function startWithRouter(
  name: string,
  router: Partial<MuxlySettings['router']> = {},
): Promise<ControlPlaneWithRouter> {
  const logger = createLogger({ service: `${name}-test`, level: 'error', silent: true });
  const directory = await mkdtemp(join(tmpdir(), `muxly-${name}-`));
  const groupIdPrefix = `test-${name}-${randomBytes(4).toString('hex')}.`;
  const h = await startHarness({
    templates: await loadTemplates(logger),
    settings: { router: { groupIdPrefix }, outbound: { fileBaseDirectory: directory } },
  });
  const routerSettings: MuxlySettings = {
    ...h.settings,
    router: { ...h.settings.router, health: { host: '127.0.0.1', port: 0 }, ...router },
  };
  const service = await startRouter(routerSettings, logger);
  const producer = h.service.kafka.producer();
  await producer.connect();
  return {
    h,
    router: service,
    producer,
    directory,
    eventsTopic: topicNames(h.settings.topics.prefix).events,
    groupIdPrefix,
    close: async () => {
      await producer.disconnect();
      await service.stop();
      await h.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
