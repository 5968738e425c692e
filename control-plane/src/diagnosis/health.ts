import type { Kafka } from 'kafkajs';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  checkAll,
  errorMessage,
  registryReadiness,
  type HealthCheckResult,
  type ReadinessCheck,
  type RegistrySettings,
} from '@muxly/common';
import { DestinationEntity } from '../db/entities.ts';

// GET /api/v1/health: every dependency of the pipeline in one answer, for people and dashboards.
// It always answers 200 (the control plane itself works); `status` says whether all is well.
//   checks        PostgreSQL, Kafka, the schema registry, each service's /readyz (with the
//                 service's own checks as details), and whether the lag could be read;
//   consumerLag   one entry per destination (the router consumes with one group per destination),
//                 plus router groups whose destination no longer exists;
//   transformerLag  the transformer's group on the raw topic: what is waiting to be normalized.

export interface HealthOptions {
  orm: MikroORM;
  kafka: Kafka;
  registry: RegistrySettings;
  /** Service name → base URL; their /readyz is asked. */
  services: Record<string, string>;
  eventsTopic: string;
  rawTopic: string;
  routerGroupPrefix: string;
  transformerGroupId: string;
}

interface DestinationLag {
  groupId: string;
  destinationId: string;
  /** Absent for a group whose destination no longer exists. */
  destinationName?: string;
  enabled?: boolean;
  /** Events on the topic the group has not consumed (all retained ones when it never committed). */
  lag: number;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: Record<string, HealthCheckResult>;
  consumerLag: DestinationLag[];
  transformerLag?: { groupId: string; lag: number };
}

export function postgresReadiness(orm: MikroORM): ReadinessCheck {
  return async () => {
    await orm.em.getConnection().execute('select 1');
  };
}

/** Asks a service's /readyz; its own checks (Kafka, destinations…) become the details. */
async function serviceReadiness(baseUrl: string): Promise<HealthCheckResult> {
  const url = `${baseUrl.replace(/\/$/, '')}/readyz`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  } catch (error) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is in its cause.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { status: 'failing', error: `cannot reach ${url}: ${cause?.code ?? cause?.message ?? errorMessage(error)}` };
  }
  const text = await response.text().catch(() => '');
  let checks: Record<string, { status?: string; error?: string }> | undefined;
  try {
    checks = (JSON.parse(text) as { checks?: typeof checks }).checks;
  } catch {
    // not the Muxly readiness shape: report the status only
  }
  const details = checks ? { checks } : undefined;
  if (response.ok) return { status: 'ok', ...(details ? { details } : {}) };
  const failing = Object.entries(checks ?? {})
    .filter(([, check]) => check.status !== 'ok')
    .map(([name, check]) => `${name}: ${check.error ?? check.status ?? 'failing'}`);
  return {
    status: 'failing',
    error: `readyz answered ${response.status}${failing.length > 0 ? ` (${failing.join('; ')})` : text ? `: ${text.slice(0, 300)}` : ''}`,
    ...(details ? { details } : {}),
  };
}

/** Unconsumed events per group on one topic; a group that never committed starts at the earliest offset. */
async function groupLags(kafka: Kafka, topic: string, groupIds: readonly string[]): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (groupIds.length === 0) return result;
  const admin = kafka.admin({ retry: { retries: 0 } });
  await admin.connect();
  try {
    let offsets: Awaited<ReturnType<typeof admin.fetchTopicOffsets>>;
    try {
      offsets = await admin.fetchTopicOffsets(topic);
    } catch (error) {
      // A topic not created yet (nothing was ever produced to it) holds nothing to consume.
      if ((error as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
      offsets = [];
    }
    const ends = new Map(offsets.map((p) => [p.partition, { high: BigInt(p.high), low: BigInt(p.low) }]));
    if (ends.size === 0) {
      for (const groupId of groupIds) result.set(groupId, 0);
      return result;
    }
    for (const groupId of groupIds) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const positions = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      let lag = 0n;
      for (const [partition, end] of ends) {
        const offset = positions.get(partition) ?? -1n;
        // NOTE: -1 means no commit yet: the consumers start from the earliest retained offset.
        const position = offset < 0n || offset < end.low ? end.low : offset;
        lag += end.high > position ? end.high - position : 0n;
      }
      result.set(groupId, Number(lag));
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

async function routerGroups(kafka: Kafka, prefix: string): Promise<string[]> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    return groups.map((group) => group.groupId).filter((groupId) => groupId.startsWith(prefix));
  } finally {
    await admin.disconnect();
  }
}

/** Lag of every destination's router group on the events topic, and of groups left by deleted destinations. */
async function routerLag(
  options: Pick<HealthOptions, 'orm' | 'kafka' | 'eventsTopic' | 'routerGroupPrefix'>,
): Promise<DestinationLag[]> {
  const destinations = (await options.orm.em.fork().find(DestinationEntity, {}, { orderBy: { id: 'asc' } })) as {
    id: string;
    name: string;
    enabled: boolean;
  }[];
  const known = new Set(destinations.map((destination) => `${options.routerGroupPrefix}${destination.id}`));
  const orphans = (await routerGroups(options.kafka, options.routerGroupPrefix))
    .filter((groupId) => !known.has(groupId))
    .sort();
  const lags = await groupLags(options.kafka, options.eventsTopic, [...known, ...orphans]);
  return [
    ...destinations.map((destination) => {
      const groupId = `${options.routerGroupPrefix}${destination.id}`;
      return {
        groupId,
        destinationId: destination.id,
        destinationName: destination.name,
        enabled: destination.enabled,
        lag: lags.get(groupId) ?? 0,
      };
    }),
    ...orphans.map((groupId) => ({
      groupId,
      destinationId: groupId.slice(options.routerGroupPrefix.length),
      lag: lags.get(groupId) ?? 0,
    })),
  ];
}

export function createHealthReporter(options: HealthOptions): () => Promise<HealthReport> {
  const checks: Record<string, ReadinessCheck> = {
    postgresql: postgresReadiness(options.orm),
    kafka: async () => {
      const admin = options.kafka.admin({ retry: { retries: 0 } });
      await admin.connect();
      try {
        await admin.describeCluster();
      } finally {
        await admin.disconnect();
      }
    },
    schemaRegistry: registryReadiness(options.registry),
  };

  return async () => {
    const [dependencies, ...services] = await Promise.all([
      checkAll(checks),
      ...Object.entries(options.services).map(async ([name, url]) => [name, await serviceReadiness(url)] as const),
    ]);
    const results: HealthReport['checks'] = { ...dependencies, ...Object.fromEntries(services) };
    let consumerLag: DestinationLag[] = [];
    let transformerLag: HealthReport['transformerLag'];
    if (results.kafka?.status === 'ok') {
      try {
        consumerLag = await routerLag(options);
        const transformer = await groupLags(options.kafka, options.rawTopic, [options.transformerGroupId]);
        transformerLag = { groupId: options.transformerGroupId, lag: transformer.get(options.transformerGroupId) ?? 0 };
        results.consumerLag = { status: 'ok' };
      } catch (error) {
        results.consumerLag = { status: 'failing', error: `cannot read consumer lag: ${errorMessage(error)}` };
      }
    } else {
      results.consumerLag = { status: 'failing', error: 'Kafka is not reachable' };
    }
    const status = Object.values(results).every((result) => result.status === 'ok') ? 'ok' : 'degraded';
    return { status, checks: results, consumerLag, ...(transformerLag ? { transformerLag } : {}) };
  };
}
