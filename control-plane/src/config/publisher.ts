import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { errorMessage, type KafkaProducer, type Logger } from '@muxly/common';

// Live configuration: every pipeline object is one record on the compacted config topic,
// key "<kind>/<id>", value {"kind","id","version","object"} (JSON), null value when deleted.
// The format is specified in docs/control-plane-api.md ("Live configuration").

export const CONFIG_KINDS = ['destination', 'rule', 'route', 'connector', 'job', 'webhook-trigger'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

export interface ConfigRecordValue {
  kind: ConfigKind;
  id: string;
  version: number;
  object: Record<string, unknown>;
}

/** How to read the current published form of one kind of object from the database. */
export interface ConfigSource {
  load(em: EntityManager, id: string): Promise<{ version: number; object: Record<string, unknown> } | null>;
  listIds(em: EntityManager): Promise<string[]>;
}

export type ConfigSources = Record<ConfigKind, ConfigSource>;

export const configKey = (kind: ConfigKind, id: string) => `${kind}/${id}`;

export interface ConfigPublisherOptions {
  orm: MikroORM;
  /** Null when publishing is off (controlPlane.publishConfig=false). */
  producer: KafkaProducer | null;
  topic: string;
  sources: ConfigSources;
  logger: Logger;
  retryDelayMs?: number;
  /** Longest notify() waits for the broker before returning (the publish continues). */
  maxWaitMs?: number;
}

export class ConfigPublisher {
  readonly #options: ConfigPublisherOptions;
  /** Objects whose last publish failed: retried until it succeeds. */
  readonly #pending = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ConfigPublisherOptions) {
    this.#options = options;
  }

  /**
   * Publishes the current state of one object (or its tombstone). Call after the change committed.
   * Never throws: a failed publish is logged and retried in the background.
   *
   * NOTE: publishes are serialized and each reads the object's state from the database at its
   * turn rather than sending the state the caller saw. Two concurrent updates of one object can
   * therefore never leave an older version as the last record of its key on the compacted topic.
   */
  notify(kind: ConfigKind, id: string): Promise<void> {
    if (!this.#options.producer) return Promise.resolve();
    const next = this.#queue.then(() => this.#publish([`${kind}\u0000${id}`]));
    this.#queue = next;
    // The change is committed whatever Kafka does: an API answer waits for the publish only
    // so long (normally milliseconds), then the publish carries on in the background.
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.maxWaitMs ?? 3_000);
    });
    return Promise.race([next, cap]).finally(() => clearTimeout(timer));
  }

  /** Publishes every object of every kind (at start-up, so a fresh topic is complete). */
  async publishAll(): Promise<number> {
    if (!this.#options.producer) return 0;
    const em = this.#options.orm.em.fork();
    const keys: string[] = [];
    for (const kind of CONFIG_KINDS) {
      for (const id of await this.#options.sources[kind].listIds(em)) keys.push(`${kind}\u0000${id}`);
    }
    const run = this.#queue.then(() => this.#publish(keys));
    this.#queue = run;
    await run;
    return keys.length;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await this.#queue;
  }

  async #publish(entries: string[]): Promise<void> {
    const { producer, topic, sources, orm, logger } = this.#options;
    if (!producer || entries.length === 0) return;
    try {
      const em = orm.em.fork();
      const records = [];
      for (const entry of entries) {
        const [kind, id] = entry.split('\u0000') as [ConfigKind, string];
        const current = await sources[kind].load(em, id);
        const value: ConfigRecordValue | null = current
          ? { kind, id, version: current.version, object: current.object }
          : null;
        records.push({
          topic,
          key: configKey(kind, id),
          value: value === null ? (null as unknown as string) : JSON.stringify(value),
        });
      }
      // Chunks keep each produce request well under the broker's message size limit.
      for (let start = 0; start < records.length; start += 200) await producer.send(records.slice(start, start + 200));
      for (const entry of entries) this.#pending.delete(entry);
    } catch (error) {
      for (const entry of entries) this.#pending.add(entry);
      logger.warn('config publish failed; will retry', { objects: entries.length, error: errorMessage(error) });
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const entries = [...this.#pending];
      this.#queue = this.#queue.then(() => this.#publish(entries));
    }, this.#options.retryDelayMs ?? 5_000);
    this.#retryTimer.unref();
  }
}
