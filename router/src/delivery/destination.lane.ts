import type { Kafka, KafkaMessage } from 'kafkajs';
import {
  errorMessage,
  PartitionAccess,
  laneMarker,
  type ConsumerProgress,
  type LaneState,
  type Logger,
  type ProgressTracker,
  type Tracing,
} from '@muxly/common';
import { decodeEvent } from '../destinations/event-json.ts';
import type { RoutingTable } from '../pipeline/pipeline.ts';
import { kafkaRetryDelayMs, sleep, type BackoffPolicy } from './backoff.ts';
import type { Delivery, RoutedEvent } from './delivery.ts';
import { traceRoute } from './route.trace.ts';
import type { RouterMetrics } from './router.metrics.ts';

export interface LaneOptions {
  destinationId: string;
  /** The destination's own consumer group: its committed offsets are its delivered position. */
  groupId: string;
  eventsTopic: string;
  delivery: Delivery;
  kafka: Kafka;
  routing: () => RoutingTable;
  /** The shared stream's next offset of a partition this instance owns; undefined when not owned. */
  sharedPosition(partition: number): bigint | undefined;
  highWatermark(partition: number): bigint | undefined;
  /** Tells the shared stream that the queue has room again (it may be waiting for it). */
  roomFreed(): void;
  /** Most events waiting in the queue before the shared stream stops handing over (then detaches). */
  capacity: number;
  maxBatchSize: number;
  /** Offsets are committed at most this often (and at once on stop and on a revoked partition). */
  commitIntervalMs: number;
  backoff: BackoffPolicy;
  metrics: RouterMetrics;
  /** Liveness: the lane reports its progress under its group id (see #run for what counts). */
  progress?: ProgressTracker;
  /** A route span per traced event this lane reads itself (catching up). */
  tracing?: Tracing;
  logger: Logger;
}

/** How long a queue with less than a full batch waits for more before it is delivered. */
const GATHER_MS = 10;

/** One partition as this destination sees it on this instance. */
interface PartitionState {
  partition: number;
  /** Attached: the shared stream hands this destination its events. Detached: its own reader reads them. */
  attached: boolean;
  /** The next offset this destination still needs: everything before it is queued or done. */
  next: bigint;
  /** Everything before it is delivered, filtered or dead-lettered: the offset to commit. */
  done: bigint;
  committed: bigint | undefined;
}

type QueueEntry =
  | { state: PartitionState; routed: RoutedEvent; offset: bigint }
  | { state: PartitionState; routed?: undefined; offset: bigint };

/**
 * What one destination has to do on this router instance: a bounded queue of the events the
 * shared stream routed to it, a loop that delivers them in order, and its delivered position,
 * committed as the offsets of the destination's own consumer group.
 *
 * A destination that cannot keep up is detached (by the fan-out): the shared stream stops handing
 * it events, and once its queue is delivered it reads the partitions itself from where the queue
 * ended, decoding and evaluating for itself alone, until it reaches the shared stream's position
 * and attaches again. The same reader serves a partition whose committed position is behind the
 * shared stream's when this instance is assigned it (a new destination, a restart after a crash).
 *
 * NOTE (offsets): `done` only moves past an offset once its event was delivered, filtered or
 * dead-lettered, in offset order per partition; a batch that could not be finished is never
 * skipped (it is retried, or on stop left uncommitted and redelivered: at-least-once).
 */
export class DestinationLane {
  readonly id: string;
  readonly #options: LaneOptions;
  /** Its own connections: a failing request of one destination never disturbs another's. */
  readonly #access: PartitionAccess;
  readonly #partitions = new Map<number, PartitionState>();
  #queue: QueueEntry[] = [];
  #queuedEvents = 0;
  #closing = false;
  readonly #stopping = new AbortController();
  #wake: (() => void) | undefined;
  #lastCommitAt = 0;
  #nextCatchUp = 0;
  #loop: Promise<void> | undefined;
  /** Refreshes the "running" marker while the loop is held by a long send or its retries. */
  #markerTimer: NodeJS.Timeout | undefined;
  #markerCommit: Promise<void> = Promise.resolve();
  readonly #labels: { destination: string };
  readonly #progress: ConsumerProgress | undefined;

  constructor(options: LaneOptions) {
    this.id = options.destinationId;
    this.#options = options;
    this.#access = new PartitionAccess(options.kafka);
    this.#labels = { destination: options.destinationId };
    options.metrics.detached.set(this.#labels, 0);
    this.#progress = options.progress?.track(options.groupId, async () => this.waiting());
  }

  start(): void {
    this.#progress?.running(true);
    this.#loop ??= this.#run();
    const { commitIntervalMs, logger } = this.#options;
    this.#markerTimer ??= setInterval(() => {
      if (Date.now() - this.#lastCommitAt < 3 * commitIntervalMs) return;
      this.#markerCommit = this.#commit(true).catch((error: unknown) =>
        logger.warn('destination lane: refreshing its position failed', {
          destination: this.id,
          error: errorMessage(error),
        }),
      );
    }, commitIntervalMs);
    this.#markerTimer.unref();
  }

  /**
   * Events this destination still has to handle on this instance: what is queued, or more when a
   * partition's end (as the shared stream last saw it) is further than what is done.
   */
  waiting(): number {
    let behind = 0;
    for (const state of this.#partitions.values()) {
      const high = this.#options.highWatermark(state.partition);
      if (high !== undefined && high > state.done) behind += Number(high - state.done);
    }
    return Math.max(this.#queuedEvents, behind);
  }

  /**
   * Takes a partition this instance was assigned: the destination starts from its committed
   * position (the earliest offset when it has none), attached when that is at or past the shared
   * stream's position, else detached to catch up. Retries until it can read its position or stops.
   */
  async assign(partition: number): Promise<void> {
    const { groupId, eventsTopic, logger } = this.#options;
    const access = this.#access;
    for (let round = 1; !this.#closing; round += 1) {
      try {
        const committed = (await access.committed(groupId, eventsTopic, [partition])).get(partition);
        const start = committed ?? (await access.earliest(eventsTopic, [partition])).get(partition) ?? '0';
        const shared = this.#options.sharedPosition(partition);
        if (shared === undefined) return; // revoked meanwhile
        const position = BigInt(start);
        this.#partitions.set(partition, {
          partition,
          attached: position >= shared,
          next: position,
          done: position,
          committed: committed === undefined ? undefined : position,
        });
        if (position < shared)
          logger.info('destination behind the shared stream; catching up with its own reader', {
            destination: this.id,
            partition,
            from: start,
            sharedAt: shared.toString(),
          });
        this.#notify();
        return;
      } catch (error) {
        logger.warn('cannot read the destination position; retrying', {
          destination: this.id,
          partition,
          error: errorMessage(error),
        });
        await sleep(kafkaRetryDelayMs(this.#options.backoff, round), this.#stopping.signal).catch(() => undefined);
      }
    }
  }

  /**
   * The partition went to another instance: what is delivered is committed at once, what is queued
   * is dropped (the new owner starts from the committed position).
   */
  revoke(partition: number): void {
    const state = this.#partitions.get(partition);
    if (!state) return;
    this.#partitions.delete(partition);
    // Its queued events stay in the queue, skipped when they come up (a batch may be in flight).
    if (state.committed === undefined || state.done > state.committed) {
      const { groupId, eventsTopic, logger } = this.#options;
      this.#access
        .commit(groupId, eventsTopic, new Map([[partition, state.done.toString()]]), laneMarker('stopped'))
        .catch((error: unknown) =>
          logger.warn('commit of a revoked partition failed; the new owner redelivers from the last commit', {
            destination: this.id,
            partition,
            error: errorMessage(error),
          }),
        );
    }
    this.#notify();
  }

  /** Whether the shared stream should hand this destination the event at this offset. */
  accepts(partition: number, offset: bigint): boolean {
    const state = this.#partitions.get(partition);
    return state !== undefined && state.attached && offset >= state.next && !this.#closing;
  }

  /** Hands over an event (only after accepts() said yes). */
  push(routed: RoutedEvent, offset: bigint): void {
    const state = this.#partitions.get(routed.partition)!;
    this.#queue.push({ state, routed, offset });
    this.#queuedEvents += 1;
    state.next = offset + 1n;
    this.#notify();
  }

  /** The shared stream handled the partition up to `end` (exclusive): the rest was filtered for this destination. */
  mark(partition: number, end: bigint): void {
    const state = this.#partitions.get(partition);
    // NOTE: a closing lane accepted none of the chunk's events: the mark must not move past them.
    if (this.#closing || !state?.attached || end <= state.next) return;
    state.next = end;
    this.#queue.push({ state, offset: end });
    this.#notify();
  }

  get attached(): boolean {
    return [...this.#partitions.values()].some((state) => state.attached);
  }

  get full(): boolean {
    return this.#queuedEvents >= this.#options.capacity;
  }

  /** Stops taking events from the shared stream; its own reader goes on from where the queue ends. */
  detach(): void {
    let detached = 0;
    for (const state of this.#partitions.values()) {
      if (state.attached) detached += 1;
      state.attached = false;
    }
    if (detached === 0) return;
    this.#options.metrics.detached.set(this.#labels, 1);
    this.#options.logger.warn('destination falls behind; detached from the shared stream to catch up on its own', {
      destination: this.id,
      partitions: detached,
      queued: this.#queuedEvents,
    });
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * NOTE (liveness): the lane is alive while this loop turns: a batch delivered or a read caught
   * up counts as progress, an empty queue as idle, and a retry (the destination refused, the
   * broker is away) as working, since a restart would meet the same refusal. What is left is one
   * step (a send, a read, a commit) that does not return while events wait: after
   * liveness.stallAfterMs /healthz names the lane's group as stalled and a supervisor restarts
   * the router (it resumes from the committed positions).
   */
  async #run(): Promise<void> {
    const { logger, backoff, commitIntervalMs } = this.#options;
    const access = this.#access;
    const progress = this.#progress;
    const alive = () => progress?.working();
    let failures = 0;
    while (!(this.#closing && this.#queue.length === 0) && !this.#stopping.signal.aborted) {
      try {
        const behind = this.#closing ? undefined : this.#behindPartition();
        if (this.#queue.length > 0) {
          await this.#gather();
          await this.#deliverQueued(alive);
          progress?.advanced();
        } else if (behind) {
          await this.#catchUp(behind, alive);
          progress?.advanced();
        } else {
          progress?.idle();
          await this.#idle(Math.max(50, commitIntervalMs - (Date.now() - this.#lastCommitAt)));
        }
        await this.#commit(false);
        failures = 0;
      } catch (error) {
        if (this.#stopping.signal.aborted) break;
        failures += 1;
        progress?.working();
        logger.warn('destination lane: retrying after an error', { destination: this.id, error: errorMessage(error) });
        await sleep(kafkaRetryDelayMs(backoff, failures), this.#stopping.signal).catch(() => undefined);
      }
    }
    clearInterval(this.#markerTimer);
    await this.#markerCommit;
    await this.#commit(true, 'stopped').catch((error: unknown) =>
      logger.warn('final commit failed; undelivered positions are redelivered', {
        destination: this.id,
        error: errorMessage(error),
      }),
    );
    await access.reset();
  }

  /**
   * NOTE (cost): a queue with less than a full batch waits GATHER_MS for more before it is sent.
   * The shared stream hands out each fetch one partition at a time, so without the wait every
   * destination sent (wrote and fsynced, or made a request) two to three times per fetch: at 2,000
   * events/s with ten file destinations, 49 sends a second each against 17 with 20 ms of wait, at
   * about 0.3 ms of CPU per write and fsync. A full batch never waits; a lone event waits GATHER_MS.
   */
  async #gather(): Promise<void> {
    if (this.#closing || this.#queuedEvents >= this.#options.maxBatchSize) return;
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
  }

  /** Delivers the head of the queue (up to maxBatchSize events), retrying it until it is done. */
  async #deliverQueued(alive: () => void): Promise<void> {
    let events = 0;
    let count = 0;
    while (count < this.#queue.length && events < this.#options.maxBatchSize) {
      if (this.#queue[count]!.routed) events += 1;
      count += 1;
    }
    const batch = this.#queue.slice(0, count);
    const routed = batch.flatMap((entry) => (entry.routed && this.#current(entry.state) ? [entry.routed] : []));
    // NOTE: the batch stays at the head of the queue until delivered, so an error retries it and
    // nothing behind it can move `done` past it.
    if (routed.length > 0) await this.#options.delivery.deliver(routed, this.#stopping.signal, alive);
    for (const entry of batch) {
      if (!this.#current(entry.state)) continue;
      const end = entry.routed ? entry.offset + 1n : entry.offset;
      if (end > entry.state.done) entry.state.done = end;
    }
    this.#queue.splice(0, count);
    this.#queuedEvents -= events;
    if (events > 0) this.#options.roomFreed();
  }

  #current(state: PartitionState): boolean {
    return this.#partitions.get(state.partition) === state;
  }

  /** A detached partition to read next (round robin), or undefined. */
  #behindPartition(): PartitionState | undefined {
    const behind = [...this.#partitions.values()].filter((state) => !state.attached);
    if (behind.length === 0) return undefined;
    this.#nextCatchUp = (this.#nextCatchUp + 1) % behind.length;
    return behind[this.#nextCatchUp];
  }

  /** Reads, routes and delivers the next events of a detached partition; attaches when it reached the shared stream. */
  async #catchUp(state: PartitionState, alive: () => void): Promise<void> {
    const { eventsTopic, routing, delivery, logger } = this.#options;
    let read;
    try {
      read = await this.#access.read(eventsTopic, state.partition, state.next.toString(), { maxWaitMs: 200 });
    } catch (error) {
      if ((error as { type?: string }).type !== 'OFFSET_OUT_OF_RANGE') throw error;
      // Retention deleted events before this destination read them: nothing left to deliver there.
      const earliest = (await this.#access.earliest(eventsTopic, [state.partition])).get(state.partition) ?? '0';
      logger.error('events were deleted by retention before the destination read them; going on from the earliest', {
        destination: this.id,
        partition: state.partition,
        from: state.next.toString(),
        to: earliest,
      });
      if (this.#current(state) && BigInt(earliest) > state.next) state.next = state.done = BigInt(earliest);
      return;
    }
    if (!this.#current(state)) return;
    const routed = read.messages.map((message) => this.#routeAlone(message, state.partition, routing()));
    if (routed.length > 0) await delivery.deliver(routed, this.#stopping.signal, alive);
    if (!this.#current(state)) return;
    const next = BigInt(read.nextOffset);
    if (next > state.next) state.next = next;
    if (next > state.done) state.done = next;
    // NOTE: runs without an await between the check and the switch, so the shared stream cannot
    // hand out an offset in between: it hands over everything from state.next on from now.
    const shared = this.#options.sharedPosition(state.partition);
    if (shared === undefined) {
      this.#partitions.delete(state.partition);
      return;
    }
    if (state.next >= shared) {
      state.attached = true;
      if (![...this.#partitions.values()].some((other) => !other.attached))
        this.#options.metrics.detached.set(this.#labels, 0);
      logger.info('destination caught up; attached to the shared stream', {
        destination: this.id,
        partition: state.partition,
        at: state.next.toString(),
      });
    }
  }

  #routeAlone(message: KafkaMessage, partition: number, table: RoutingTable): RoutedEvent {
    try {
      const { event, json } = decodeEvent(message.value ?? Buffer.alloc(0));
      const decision = table.decide(event, this.id);
      const { tracing, eventsTopic } = this.#options;
      const traceparent = tracing
        ? traceRoute(tracing, message, { topic: eventsTopic, partition }, decision.routed === false ? 0 : 1)
        : undefined;
      return { partition, message, event, json, decision, traceparent };
    } catch (error) {
      return {
        partition,
        message,
        decodeError: error instanceof Error ? error : new Error(String(error)),
        decision: { routed: false },
      };
    }
  }

  /**
   * NOTE: every held partition is committed each interval, moved or not, with a "running" marker
   * (lane-marker.ts): it is how the control plane knows this destination is being delivered and
   * refuses to move its position underneath (this lane would overwrite it). The last commit, on
   * stop, says "stopped".
   */
  async #commit(force: boolean, marker: LaneState = 'running'): Promise<void> {
    if (!force && Date.now() - this.#lastCommitAt < this.#options.commitIntervalMs) return;
    const offsets = new Map<number, string>();
    for (const partition of this.#partitions.values()) offsets.set(partition.partition, partition.done.toString());
    this.#lastCommitAt = Date.now();
    if (offsets.size > 0) {
      const { groupId, eventsTopic } = this.#options;
      await this.#access.commit(groupId, eventsTopic, offsets, laneMarker(marker));
      for (const [partition, offset] of offsets) {
        const state = this.#partitions.get(partition);
        if (state && state.done === BigInt(offset)) state.committed = state.done;
      }
    }
    for (const state of this.#partitions.values()) {
      const high = this.#options.highWatermark(state.partition);
      if (high !== undefined) {
        const lag = high > state.done ? Number(high - state.done) : 0;
        this.#options.metrics.lag.set({ ...this.#labels, partition: String(state.partition) }, lag);
      }
    }
  }

  /**
   * Delivers what is queued (within `drainMs`), commits and stops. Past the deadline `onDeadline`
   * runs (it aborts the destination's in-flight work) and what is left is redelivered later.
   */
  async stop(drainMs: number, onDeadline: () => void): Promise<void> {
    this.#closing = true;
    this.#notify();
    const loop = this.#loop ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      loop.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainMs))),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      this.#stopping.abort(new Error('stopping: undelivered events are redelivered'));
      onDeadline();
    }
    await loop;
    this.#options.progress?.untrack(this.#options.groupId);
  }
}
