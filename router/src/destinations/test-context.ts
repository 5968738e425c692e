import { tmpdir } from 'node:os';
import { Registry } from 'prom-client';
import { createLogger, ForbiddenDatabases } from '@muxly/common';
import type { DeliveryItem, DestinationContext, DestinationInstance, DestinationPlugin } from './destination.ts';

// Shared by the destinations' integration tests: a real context with a silent logger.

export function testContext(destinationId = `test-${process.pid}`): DestinationContext & { abort(): void } {
  const controller = new AbortController();
  return {
    destinationId,
    log: createLogger({ service: 'router-test', silent: true }),
    metrics: new Registry(),
    signal: controller.signal,
    // Loopback, where the tests' peers listen, as local mode allows it.
    outbound: { fileBaseDirectory: tmpdir(), allowAddresses: ['127.0.0.0/8', '::1'] },
    forbiddenDatabases: new ForbiddenDatabases([]),
    abort: () => controller.abort(),
  };
}

/** Unified events as the router hands them to a destination, on one partition from `firstOffset`. */
export function testItems(
  count: number,
  options: { topic?: string; partition?: number; firstOffset?: number; name?: string } = {},
): DeliveryItem[] {
  const { topic = 'muxly.events', partition = 0, firstOffset = 0, name = 'signup' } = options;
  return Array.from({ length: count }, (_, index) => {
    const id = `evt-${partition}-${firstOffset + index}`;
    return {
      id,
      topic,
      partition,
      offset: String(firstOffset + index),
      event: {
        id,
        schemaVersion: 1,
        kind: 'metric',
        name,
        timestamp: '2026-11-23T10:00:00.000Z',
        receivedAt: '2026-11-23T10:00:01.000Z',
        source: { type: 'api', id: 'key-1' },
        value: index + 0.5,
        unit: 'ms',
        dimensions: { env: index % 2 === 0 ? 'prod' : 'dev', country: 'FR' },
        attributes: { plan: 'pro', index },
      },
    };
  });
}

export const randomSuffix = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** Creates a destination from a partial config (the plugin fills the defaults, as the router does). */
export function createForTest<Config>(
  plugin: DestinationPlugin<Config>,
  config: Record<string, unknown>,
  context: DestinationContext = testContext(),
): Promise<DestinationInstance> {
  return plugin.create(config as Config, context);
}
