import type { Kafka } from 'kafkajs';
import type { MikroORM } from '@mikro-orm/postgresql';
import { checkAll, errorMessage, registryReadiness, type ReadinessCheck, type RegistrySettings } from '@muxly/common';

// GET /api/v1/health: every dependency of the pipeline in one answer, for people and dashboards.
// It always answers 200 (the control plane itself works); `status` says whether all is well.

export interface HealthOptions {
  orm: MikroORM;
  kafka: Kafka;
  registry: RegistrySettings;
  /** Service name → base URL; their /readyz is asked. */
  services: Record<string, string>;
  eventsTopic: string;
  routerGroupPrefix: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: Record<string, { status: 'ok' | 'failing'; error?: string; details?: unknown }>;
  consumerLag: { groupId: string; destinationId: string; lag: number }[];
}

export function postgresReadiness(orm: MikroORM): ReadinessCheck {
  return async () => {
    await orm.em.getConnection().execute('select 1');
  };
}

function serviceReadiness(baseUrl: string): ReadinessCheck {
  return async () => {
    const url = `${baseUrl.replace(/\/$/, '')}/readyz`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    } catch (error) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is in its cause.
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? errorMessage(error)}`);
    }
    if (!response.ok) {
      const body = await response.text().catch(() => '');
      throw new Error(`readyz answered ${response.status}${body ? `: ${body.slice(0, 300)}` : ''}`);
    }
  };
}

/** Lag of each router consumer group (one per destination) on the events topic. */
export async function routerLag(kafka: Kafka, topic: string, prefix: string): Promise<HealthReport['consumerLag']> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const routerGroups = groups.map((group) => group.groupId).filter((groupId) => groupId.startsWith(prefix)).sort();
    if (routerGroups.length === 0) return [];
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { high: BigInt(p.high), low: BigInt(p.low) }]));
    const result = [];
    for (const groupId of routerGroups) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      let lag = 0n;
      for (const { partition, offset } of committed?.partitions ?? []) {
        const end = ends.get(partition);
        if (!end) continue;
        const position = BigInt(offset) < 0n ? end.low : BigInt(offset);
        lag += end.high > position ? end.high - position : 0n;
      }
      result.push({ groupId, destinationId: groupId.slice(prefix.length), lag: Number(lag) });
    }
    return result;
  } finally {
    await admin.disconnect();
  }
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
  for (const [name, url] of Object.entries(options.services)) checks[name] = serviceReadiness(url);

  return async () => {
    const results: HealthReport['checks'] = await checkAll(checks);
    let consumerLag: HealthReport['consumerLag'] = [];
    if (results.kafka?.status === 'ok') {
      try {
        consumerLag = await routerLag(options.kafka, options.eventsTopic, options.routerGroupPrefix);
        results.consumerLag = { status: 'ok' };
      } catch (error) {
        results.consumerLag = { status: 'failing', error: errorMessage(error) };
      }
    }
    const status = Object.values(results).every((result) => result.status === 'ok') ? 'ok' : 'degraded';
    return { status, checks: results, consumerLag };
  };
}
