import { errorMessage, type Logger } from '@muxly/common';
import {
  increaseBetween,
  readIngest,
  readRouter,
  readTransformer,
  type Interval,
  type Reading,
} from './metrics-rates.ts';
import { parsePrometheusText, type Sample } from './prometheus-text.ts';

// GET /api/v1/metrics/history: the pipeline's throughput and lag over the last hour, from the
// services' own Prometheus /metrics (the URLs the health report asks). The control plane reads
// them every `controlPlane.services.metricsIntervalSeconds` and keeps one hour of intervals in
// memory, in a ring buffer of fixed size: nothing grows with time, and a restart of the control
// plane starts an empty history (Prometheus is the place for longer ones).

export const HISTORY_MINUTES = 60;

/** A fixed-size buffer that drops its oldest entry when full. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer`);
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Oldest first. */
  toArray(): T[] {
    const start = (this.next - this.count + this.capacity) % this.capacity;
    return Array.from({ length: this.count }, (_, index) => this.items[(start + index) % this.capacity] as T);
  }
}

type ServiceName = 'ingest' | 'transformer' | 'router';

export interface MetricsHistoryOptions {
  /** Service name → base URL; their /metrics is read. */
  services: Record<ServiceName, string>;
  intervalSeconds: number;
  logger: Logger;
}

const round = (value: number) => Math.round(value * 1000) / 1000;
const perSecond = <T extends Record<string, number>>(counts: T, seconds: number): T =>
  Object.fromEntries(Object.entries(counts).map(([key, value]) => [key, round(value / seconds)])) as T;

export interface ServiceScrape {
  status: 'ok' | 'failing';
  error?: string;
  /** When its /metrics last answered. */
  lastReadAt?: string;
}

export class MetricsHistory {
  private readonly intervals: RingBuffer<Interval>;
  private previous: Reading | undefined;
  private readonly scrapes: Record<ServiceName, ServiceScrape> = {
    ingest: { status: 'failing', error: 'not read yet' },
    transformer: { status: 'failing', error: 'not read yet' },
    router: { status: 'failing', error: 'not read yet' },
  };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  private readonly options: MetricsHistoryOptions;

  constructor(options: MetricsHistoryOptions) {
    this.options = options;
    this.intervals = new RingBuffer(Math.ceil((HISTORY_MINUTES * 60) / options.intervalSeconds));
  }

  start(): void {
    const tick = () => {
      // A slow service must not pile up reads: one round at a time.
      if (this.running) return;
      this.running = this.sample().finally(() => {
        this.running = undefined;
      });
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Reads every service once and records the interval since the previous reading. */
  async sample(now: () => number = Date.now): Promise<void> {
    const read = async (name: ServiceName): Promise<Sample[] | undefined> => {
      const url = `${this.options.services[name].replace(/\/$/, '')}/metrics`;
      try {
        const response = await fetch(url, {
          signal: AbortSignal.timeout(Math.min(5_000, this.options.intervalSeconds * 1000)),
        });
        if (!response.ok) throw new Error(`answered ${response.status}`);
        const samples = parsePrometheusText(await response.text());
        this.scrapes[name] = { status: 'ok', lastReadAt: new Date(now()).toISOString() };
        return samples;
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        const failure = `cannot read ${url}: ${cause ?? errorMessage(error)}`;
        if (this.scrapes[name].error !== failure)
          this.options.logger.debug('metrics read failed', { service: name, error: failure });
        this.scrapes[name] = { ...this.scrapes[name], status: 'failing', error: failure };
        return undefined;
      }
    };
    const [ingest, transformer, router] = await Promise.all([read('ingest'), read('transformer'), read('router')]);
    const reading: Reading = {
      at: now(),
      ...(ingest ? { ingest: readIngest(ingest) } : {}),
      ...(transformer ? { transformer: readTransformer(transformer) } : {}),
      ...(router ? { router: readRouter(router) } : {}),
    };
    if (this.previous) this.intervals.push(increaseBetween(this.previous, reading));
    this.previous = reading;
  }

  /** The last `minutes` of history: rates per second per interval, and the counts over the whole window. */
  history(minutes: number) {
    const since = Date.now() - minutes * 60_000;
    const intervals = this.intervals.toArray().filter((interval) => interval.at >= since);
    const totals = {
      ingest: { accepted: 0, failed: 0 },
      transformer: { normalized: 0, deadLettered: 0 },
      router: { delivered: 0, deadLettered: 0, failed: 0 },
      destinations: [] as { destinationId: string; delivered: number; deadLettered: number; failed: number }[],
    };
    const perDestination = new Map<string, (typeof totals.destinations)[number]>();
    const add = <T extends Record<string, number>>(into: T, counts: T | null) => {
      if (!counts) return;
      const target = into as Record<string, number>;
      for (const key of Object.keys(target)) target[key] = (target[key] ?? 0) + (counts[key] ?? 0);
    };
    for (const interval of intervals) {
      add(totals.ingest, interval.ingest);
      add(totals.transformer, interval.transformer);
      add(totals.router, interval.router);
      for (const { destinationId, delivered, deadLettered, failed } of interval.destinations) {
        const entry = perDestination.get(destinationId) ?? { destinationId, delivered: 0, deadLettered: 0, failed: 0 };
        entry.delivered += delivered;
        entry.deadLettered += deadLettered;
        entry.failed += failed;
        perDestination.set(destinationId, entry);
      }
    }
    totals.destinations = [...perDestination.values()].sort((a, b) => a.destinationId.localeCompare(b.destinationId));
    return {
      intervalSeconds: this.options.intervalSeconds,
      minutes,
      services: { ...this.scrapes },
      totals,
      points: intervals.map((interval) => ({
        at: new Date(interval.at).toISOString(),
        seconds: round(interval.seconds),
        ingest: interval.ingest && perSecond(interval.ingest, interval.seconds),
        transformer: interval.transformer && perSecond(interval.transformer, interval.seconds),
        router: interval.router && perSecond(interval.router, interval.seconds),
        destinations: interval.destinations.map(({ destinationId, lag, ...counts }) => ({
          destinationId,
          ...perSecond(counts, interval.seconds),
          lag,
        })),
      })),
    };
  }
}
