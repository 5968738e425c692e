import type { Kafka, KafkaMessage } from 'kafkajs';
import {
  BatchConsumer,
  errorMessage,
  type BatchContext,
  type Logger,
  type PartitionAccess,
  type ProgressTracker,
  type Tracing,
} from '@muxly/common';
import type { RoutingTable } from '../pipeline/pipeline.ts';
import { kafkaRetryDelayMs, sleep, type BackoffPolicy } from './backoff.ts';
import { decodeEvent } from '../destinations/event-json.ts';
import type { RoutedEvent } from './delivery.ts';
import type { DestinationLane } from './destination.lane.ts';
import { traceRoute } from './route.trace.ts';
import type { RouterMetrics } from './router.metrics.ts';

export interface FanOutOptions {
  kafka: Kafka;
  access: PartitionAccess;
  /** The group the router instances share to split the partitions of the events topic. */
  groupId: string;
  eventsTopic: string;
  routing: () => RoutingTable;
  /** How long a full destination queue may hold back the shared stream before it is detached. */
  detachAfterMs: number;
  backoff: BackoffPolicy;
  metrics: RouterMetrics;
  /** Liveness: the shared reader's loop reports its progress here. */
  progress?: ProgressTracker;
  /** A route span per traced event; its deliveries continue from it. */
  tracing?: Tracing;
  logger: Logger;
}

/**
 * The router instance's one reader of the events topic: it fetches each event once, decodes it
 * once, evaluates the rules once for all destinations, and hands each destination (lane) the
 * events routed to it. Instances share the partitions through one consumer group; each
 * destination's delivered position stays in its own group (see DestinationLane).
 *
 * NOTE (offsets): the shared group's committed offset only says where this stream resumes; it is
 * never a destination's position. A destination that is behind it on a partition (its queue was
 * not delivered before a crash or a rebalance) catches up from its own committed offset.
 */
export class EventFanOut {
  readonly #options: FanOutOptions;
  readonly #consumer: BatchConsumer;
  readonly #lanes = new Map<string, DestinationLane>();
  /** Owned partitions → the next offset the shared stream hands out. */
  readonly #positions = new Map<number, bigint>();
  readonly #highWatermarks = new Map<number, bigint>();
  #assigned = new Set<number>();
  /** Assignment work (reading the positions) that batches wait for. */
  #ready: Promise<void> = Promise.resolve();
  readonly #stopping = new AbortController();
  #paused = false;
  #roomWaiter: (() => void) | undefined;

  constructor(options: FanOutOptions) {
    this.#options = options;
    this.#consumer = new BatchConsumer(options.kafka, {
      groupId: options.groupId,
      topics: [options.eventsTopic],
      fromBeginning: true,
      chunkSize: 1_000,
      progress: options.progress,
      onAssignment: (assignment) => this.#onAssignment(assignment[options.eventsTopic] ?? []),
      logger: options.logger,
    });
  }

  start(): Promise<void> {
    return this.#consumer.start((messages, context) => this.#handle(messages, context));
  }

  position(partition: number): bigint | undefined {
    return this.#assigned.has(partition) ? this.#positions.get(partition) : undefined;
  }

  highWatermark(partition: number): bigint | undefined {
    return this.#highWatermarks.get(partition);
  }

  /** Adds a destination: it takes every partition this instance owns, from its own position. */
  add(lane: DestinationLane): void {
    this.#lanes.set(lane.id, lane);
    lane.start();
    const owned = [...this.#positions.keys()].filter((partition) => this.#assigned.has(partition));
    this.#ready = this.#ready.then(() => Promise.all(owned.map((partition) => lane.assign(partition)))).then(() => {});
  }

  /** Removes a destination from the stream (the caller stops the lane). */
  remove(id: string): DestinationLane | undefined {
    const lane = this.#lanes.get(id);
    this.#lanes.delete(id);
    return lane;
  }

  #onAssignment(partitions: number[]): void {
    const next = new Set(partitions);
    for (const partition of this.#assigned) {
      if (next.has(partition)) continue;
      this.#positions.delete(partition);
      for (const lane of this.#lanes.values()) lane.revoke(partition);
    }
    const added = partitions.filter((partition) => !this.#assigned.has(partition));
    this.#assigned = next;
    if (added.length === 0) return;
    this.#options.logger.info('router partitions assigned', { partitions, added });
    this.#ready = this.#ready.then(() => this.#take(added));
  }

  /** Reads where the shared stream resumes on new partitions, then lets every destination take them. */
  async #take(partitions: number[]): Promise<void> {
    const { access, groupId, eventsTopic, backoff, logger } = this.#options;
    for (let round = 1; !this.#stopping.signal.aborted; round += 1) {
      try {
        const committed = await access.committed(groupId, eventsTopic, partitions);
        const missing = partitions.filter((partition) => !committed.has(partition));
        const earliest = missing.length > 0 ? await access.earliest(eventsTopic, missing) : new Map<number, string>();
        const owned = partitions.filter((partition) => this.#assigned.has(partition));
        for (const partition of owned)
          this.#positions.set(partition, BigInt(committed.get(partition) ?? earliest.get(partition) ?? '0'));
        const lanes = [...this.#lanes.values()];
        await Promise.all(owned.flatMap((partition) => lanes.map((lane) => lane.assign(partition))));
        return;
      } catch (error) {
        logger.warn('cannot read the shared stream position; retrying', { error: errorMessage(error) });
        await sleep(kafkaRetryDelayMs(backoff, round), this.#stopping.signal).catch(() => undefined);
      }
    }
  }

  async #handle(messages: KafkaMessage[], context: BatchContext): Promise<number | void> {
    await this.#ready;
    // Paused for a stop: nothing is handed out or committed; the next owner reads it again.
    if (this.#paused) return 0;
    const { partition } = context;
    if (!this.#positions.has(partition)) {
      // A batch for a partition whose assignment event was missed: take it now.
      this.#assigned.add(partition);
      await this.#take([partition]);
    }
    this.#highWatermarks.set(partition, BigInt(context.highWatermark));
    const lanes = [...this.#lanes.values()];
    const filtered = new Map<DestinationLane, number>();
    const routing = this.#options.routing();
    for (const message of messages) {
      const offset = BigInt(message.offset);
      const wanting = lanes.filter((lane) => lane.accepts(partition, offset));
      if (wanting.length === 0) continue;
      let event: Record<string, unknown>;
      let json: Buffer;
      try {
        ({ event, json } = decodeEvent(message.value ?? Buffer.alloc(0)));
      } catch (error) {
        const decodeError = error instanceof Error ? error : new Error(String(error));
        for (const lane of wanting) lane.push({ partition, message, decodeError, decision: { routed: false } }, offset);
        continue;
      }
      // Decoded and evaluated once for every destination that wants it.
      const decisions = routing.route(
        event,
        wanting.map((lane) => lane.id),
      );
      const traceparent = this.#options.tracing
        ? traceRoute(
            this.#options.tracing,
            message,
            { topic: this.#options.eventsTopic, partition },
            [...decisions.values()].filter((decision) => decision.routed !== false).length,
          )
        : undefined;
      // NOTE (cost): the destinations a rule routes an event to share one decision object, and so
      // one (read-only) RoutedEvent: no copy per destination.
      let shared: RoutedEvent | undefined;
      for (const lane of wanting) {
        const decision = decisions.get(lane.id) ?? { routed: false };
        if (decision.routed === false) {
          filtered.set(lane, (filtered.get(lane) ?? 0) + 1);
          continue;
        }
        if (shared?.decision !== decision) shared = { partition, message, event, json, decision, traceparent };
        lane.push(shared, offset);
      }
    }
    const last = messages[messages.length - 1];
    if (last) {
      const end = BigInt(last.offset) + 1n;
      if (end > (this.#positions.get(partition) ?? 0n)) this.#positions.set(partition, end);
      for (const lane of lanes) lane.mark(partition, end);
    }
    for (const [lane, count] of filtered) this.#options.metrics.filtered.inc({ destination: lane.id }, count);
    await this.#makeRoom(context);
  }

  /**
   * Back-pressure: waits while a destination's queue is full. One that stays full for
   * detachAfterMs while another destination could go on is detached, so it never holds the others
   * back; when every attached destination is full the stream simply waits (nobody is held back).
   */
  async #makeRoom(context: BatchContext): Promise<void> {
    const since = Date.now();
    for (;;) {
      const attached = [...this.#lanes.values()].filter((lane) => lane.attached);
      const full = attached.filter((lane) => lane.full);
      if (full.length === 0 || !context.shouldContinue() || this.#paused) return;
      if (Date.now() - since >= this.#options.detachAfterMs && full.length < attached.length) {
        for (const lane of full) lane.detach();
        return;
      }
      await this.#roomOrTimeout(200);
      await context.heartbeat();
    }
  }

  /** Called by a lane that took events off its queue: a waiting stream goes on at once. */
  roomFreed(): void {
    const wake = this.#roomWaiter;
    this.#roomWaiter = undefined;
    wake?.();
  }

  #roomOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#roomWaiter = undefined;
        resolve();
      }, ms);
      this.#roomWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Stops handing out events while the group membership stays, so the destinations can deliver
   * what is queued and commit before the partitions go to another instance (stop()).
   */
  pause(): void {
    this.#paused = true;
    this.#stopping.abort(new Error('stopping'));
    try {
      this.#consumer.consumer.pause([{ topic: this.#options.eventsTopic }]);
    } catch {
      // Not subscribed (the start failed): there is nothing to pause.
    }
  }

  /** Leaves the group (call pause() and stop the lanes first). */
  async stop(): Promise<void> {
    this.pause();
    await this.#consumer.stop();
    await this.#options.access.reset();
  }
}
