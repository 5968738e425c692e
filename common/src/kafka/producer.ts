import type {
  CompressionTypes as CompressionType,
  ICustomPartitioner,
  Kafka,
  Message,
  Producer,
  ProducerConfig,
  RecordMetadata,
  Transaction,
} from 'kafkajs';
import { CompressionTypes, Partitioners } from './kafkajs-loader.ts';
import { RetryableError } from '../errors.ts';

export interface OutgoingRecord {
  topic: string;
  key?: string | Buffer | null;
  value: Buffer | string;
  headers?: Record<string, string | Buffer>;
  timestamp?: string;
}

export interface ProducerOptions {
  /** Set for exactly-once producers (read-process-write); one id per running instance. */
  transactionalId?: string;
  /** How long a send may wait for the broker's acknowledgement before it is reported as failed. */
  sendTimeoutMs?: number;
  compression?: 'none' | 'gzip';
}

/**
 * An idempotent producer (acks=all) whose sends are awaited: a promise resolves only once every
 * in-sync replica has the records. Records are grouped per topic into one request.
 *
 * NOTE: kafkajs's idempotence alone can acknowledge records that were never written. It numbers
 * each partition's batches, and when a produce request fails it winds those numbers back for every
 * partition of the request, even the ones the broker had written (a partial failure, or a
 * response lost when the connection dropped). The next batch then reuses the numbers, the broker
 * takes it for a retry of the written one and acknowledges it without writing it. Three rules
 * close that gap:
 * - a keyless record keeps the partition it was first given across kafkajs's retries (a retry
 *   resends the same records under the same numbers, which the broker rightly deduplicates);
 * - sends run one at a time, so no other send can pick up numbers a failing one winds back;
 * - after a failed send the next one first takes a new producer id (numbers start afresh, nothing
 *   can be mistaken for a duplicate). Whatever the failed send did write stays: at-least-once.
 * Transactional producers abort instead (aborted records are never read), so they keep their id.
 */
export class KafkaProducer {
  readonly #kafka: Kafka;
  readonly #config: ProducerConfig;
  readonly #transactional: boolean;
  readonly #sendTimeoutMs: number;
  readonly #compression: CompressionType;
  #producer: Producer;
  #connected = false;
  #closed = false;
  /** The last send failed: which of its partitions the broker wrote is unknown. */
  #sequencesInDoubt = false;
  /** The end of the queue of sends, which run one at a time in call order. */
  #lastSend: Promise<unknown> = Promise.resolve();

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    this.#kafka = kafka;
    this.#config = {
      idempotent: true,
      createPartitioner: stickyPartitioner,
      // NOTE: kafkajs keeps request order per partition with idempotence only at one in-flight
      // request per broker; more would allow reordering on retry.
      maxInFlightRequests: 1,
      transactionalId: options.transactionalId,
      transactionTimeout: 60_000,
    };
    this.#transactional = options.transactionalId !== undefined;
    this.#producer = kafka.producer(this.#config);
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.#compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  /** The kafkajs producer in use (replaced after a failed send; see the class comment). */
  get producer(): Producer {
    return this.#producer;
  }

  async connect(): Promise<void> {
    await this.#producer.connect();
    this.#connected = true;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Sends and waits for acks=all. Throws RetryableError when the broker does not acknowledge
   * within the send timeout. NOTE: a send that timed out while kafkajs had it keeps being retried
   * in the background, so a record reported as failed may still be written: callers promise
   * at-least-once, never a false success. One that timed out while still queued is never sent.
   */
  async send(records: OutgoingRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(new RetryableError(`Kafka did not acknowledge within ${this.#sendTimeoutMs} ms`));
      }, this.#sendTimeoutMs);
    });
    try {
      return await Promise.race([this.#enqueue(records, () => expired), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends and waits until kafkajs settles, without a deadline of its own (kafkajs's retries bound
   * it): for callers that keep their own deadline and must know when the send is over.
   */
  sendAndWait(records: OutgoingRecord[]): Promise<RecordMetadata[]> {
    return records.length === 0 ? Promise.resolve([]) : this.#enqueue(records, () => false);
  }

  /** Starts a transaction (transactional producers only). */
  transaction(): Promise<Transaction> {
    return this.#producer.transaction();
  }

  async disconnect(): Promise<void> {
    this.#closed = true;
    this.#connected = false;
    await this.#producer.disconnect();
  }

  #enqueue(records: OutgoingRecord[], abandoned: () => boolean): Promise<RecordMetadata[]> {
    const sent = this.#lastSend.then(() => {
      if (abandoned()) throw new RetryableError('The send was abandoned before it started');
      return this.#sendNow(records);
    });
    this.#lastSend = sent.catch(() => undefined);
    return sent;
  }

  async #sendNow(records: OutgoingRecord[]): Promise<RecordMetadata[]> {
    if (this.#closed) throw new RetryableError('The Kafka producer is closed');
    if (this.#sequencesInDoubt) await this.#renewProducerId();
    try {
      return await this.#producer.sendBatch({
        topicMessages: groupByTopic(records),
        acks: -1,
        compression: this.#compression,
      });
    } catch (error) {
      if (!this.#transactional) this.#sequencesInDoubt = true;
      if (error instanceof RetryableError) throw error;
      throw new RetryableError(`Kafka write failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** A new kafkajs producer, hence a new producer id whose sequence numbers start at zero. */
  async #renewProducerId(): Promise<void> {
    const fresh = this.#kafka.producer(this.#config);
    try {
      await fresh.connect();
    } catch (error) {
      await fresh.disconnect().catch(() => undefined);
      throw new RetryableError(`Kafka is unavailable: ${(error as Error).message}`, { cause: error });
    }
    const previous = this.#producer;
    this.#producer = fresh;
    this.#sequencesInDoubt = false;
    await previous.disconnect().catch(() => undefined);
  }
}

/**
 * kafkajs's default partitioner, except that a keyless record keeps the partition it was first
 * given. kafkajs partitions the same message objects again on every retry of a send, and
 * round-robin would hand a retry's sequence numbers to other records (see KafkaProducer).
 */
export const stickyPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const chosen = new WeakMap<Message, number>();
  // murmur2 of every key in JavaScript was 5 % of the transformer's CPU; a series repeats its key,
  // and a key's partition depends only on the key and the partition count.
  const byKey = new Map<string, number>();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== undefined) return partitioner(args);
    if (typeof message.key === 'string') {
      const cacheKey = `${args.topic}\u0000${partitionMetadata.length}\u0000${message.key}`;
      let partition = byKey.get(cacheKey);
      if (partition === undefined) {
        partition = partitioner(args);
        if (byKey.size >= 10_000) byKey.clear();
        byKey.set(cacheKey, partition);
      }
      return partition;
    }
    if (message.key !== null && message.key !== undefined) return partitioner(args);
    const previous = chosen.get(message);
    if (previous !== undefined && partitionMetadata.some((partition) => partition.partitionId === previous))
      return previous;
    const partition = partitioner(args);
    chosen.set(message, partition);
    return partition;
  };
};

export function groupByTopic(records: OutgoingRecord[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (!messages) byTopic.set(record.topic, (messages = []));
    const message: Message = { key: record.key ?? null, value: record.value };
    if (record.headers) message.headers = record.headers;
    if (record.timestamp) message.timestamp = record.timestamp;
    messages.push(message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
