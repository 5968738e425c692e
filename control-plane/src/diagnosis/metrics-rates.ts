import type { Sample } from './prometheus-text.ts';

// What the control plane reads from each service's /metrics at one instant, and the increases
// between two such readings. Counters only grow while a process lives; a restart starts them at
// zero again, so an increase across a restart is the new value itself (what Prometheus's
// increase() does), never a negative number.

export interface IngestReading {
  /** process_start_time_seconds: a change means the process restarted. */
  startedAt?: number;
  accepted: number;
  rejected: number;
}

export interface TransformerReading {
  startedAt?: number;
  normalized: number;
  deadLettered: number;
}

interface DestinationReading {
  delivered: number;
  deadLettered: number;
  failed: number;
  /** A gauge: events behind the head of the events topic, summed over partitions. */
  lag: number;
}

export interface RouterReading {
  startedAt?: number;
  destinations: Record<string, DestinationReading>;
}

/** One scrape of every service; a service that did not answer is absent. */
export interface Reading {
  at: number;
  ingest?: IngestReading;
  transformer?: TransformerReading;
  router?: RouterReading;
}

/** Increases (counts, not rates) between two readings; a stage is null when either reading lacks it. */
export interface Interval {
  at: number;
  seconds: number;
  ingest: { accepted: number; failed: number } | null;
  transformer: { normalized: number; deadLettered: number } | null;
  router: { delivered: number; deadLettered: number; failed: number } | null;
  destinations: (DestinationIncrease & { destinationId: string })[];
}

type DestinationIncrease = { delivered: number; deadLettered: number; failed: number; lag: number };

function sum(samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  let total = 0;
  for (const sample of samples) if (sample.name === name && where(sample.labels)) total += sample.value;
  return total;
}

function startedAt(samples: Sample[]): number | undefined {
  return samples.find((sample) => sample.name === 'process_start_time_seconds')?.value;
}

export function readIngest(samples: Sample[]): IngestReading {
  return {
    startedAt: startedAt(samples),
    accepted: sum(samples, 'muxly_ingest_metrics_accepted_total'),
    rejected: sum(samples, 'muxly_ingest_requests_rejected_total'),
  };
}

export function readTransformer(samples: Sample[]): TransformerReading {
  return {
    startedAt: startedAt(samples),
    normalized: sum(samples, 'muxly_transformer_events_total'),
    deadLettered: sum(samples, 'muxly_transformer_dead_letters_total'),
  };
}

export function readRouter(samples: Sample[]): RouterReading {
  const destinations: Record<string, DestinationReading> = {};
  const entry = (id: string) => (destinations[id] ??= { delivered: 0, deadLettered: 0, failed: 0, lag: 0 });
  const fields: Record<string, keyof DestinationReading> = {
    muxly_router_delivered_total: 'delivered',
    muxly_router_dead_lettered_total: 'deadLettered',
    muxly_router_failed_attempts_total: 'failed',
    muxly_router_consumer_lag: 'lag',
  };
  for (const sample of samples) {
    const field = fields[sample.name];
    const id = sample.labels.destination;
    if (field && id !== undefined) entry(id)[field] += sample.value;
  }
  return { startedAt: startedAt(samples), destinations };
}

/**
 * How much a counter grew between two readings. NOTE: a counter lower than before, or a process
 * whose start time changed, restarted in between: everything it counts now happened since, so
 * the increase is the current value (a restart that climbed past the old value would otherwise
 * look like a small increase).
 */
export function counterIncrease(previous: number | undefined, current: number, restarted: boolean): number {
  if (previous === undefined || restarted || current < previous) return current;
  return current - previous;
}

const restartedBetween = (previous: { startedAt?: number }, current: { startedAt?: number }) =>
  previous.startedAt !== undefined && current.startedAt !== undefined && previous.startedAt !== current.startedAt;

/** A stage's counters over an interval, each read from both readings; null when either lacks the stage. */
function stageIncrease<R extends { startedAt?: number | undefined }, K extends string>(
  previous: R | undefined,
  current: R | undefined,
  counters: Record<K, (reading: R) => number>,
): Record<K, number> | null {
  if (!previous || !current) return null;
  const restarted = restartedBetween(previous, current);
  const increases = {} as Record<K, number>;
  for (const name of Object.keys(counters) as K[])
    increases[name] = counterIncrease(counters[name](previous), counters[name](current), restarted);
  return increases;
}

export function increaseBetween(previous: Reading, current: Reading): Interval {
  const seconds = Math.max(0.001, (current.at - previous.at) / 1000);
  const ingest = stageIncrease(previous.ingest, current.ingest, {
    accepted: (reading) => reading.accepted,
    failed: (reading) => reading.rejected,
  });
  const transformer = stageIncrease(previous.transformer, current.transformer, {
    normalized: (reading) => reading.normalized,
    deadLettered: (reading) => reading.deadLettered,
  });
  let router: Interval['router'] = null;
  const destinations: Interval['destinations'] = [];
  if (previous.router && current.router) {
    const restarted = restartedBetween(previous.router, current.router);
    router = { delivered: 0, deadLettered: 0, failed: 0 };
    for (const [destinationId, now] of Object.entries(current.router.destinations).sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      // A destination the router did not report before (new, or its first event): its series began at zero.
      const before = previous.router.destinations[destinationId];
      const increase = {
        destinationId,
        delivered: counterIncrease(before?.delivered, now.delivered, restarted),
        deadLettered: counterIncrease(before?.deadLettered, now.deadLettered, restarted),
        failed: counterIncrease(before?.failed, now.failed, restarted),
        lag: now.lag,
      };
      destinations.push(increase);
      router.delivered += increase.delivered;
      router.deadLettered += increase.deadLettered;
      router.failed += increase.failed;
    }
  }
  return { at: current.at, seconds, ingest, transformer, router, destinations };
}
