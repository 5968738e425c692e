import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer, type RecordMetadata, type Transaction } from 'kafkajs';
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
 */
export class KafkaProducer {
  readonly producer: Producer;
  readonly #sendTimeoutMs: number;
  readonly #compression: CompressionTypes;
  #connected = false;

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    this.producer = kafka.producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
      // NOTE: kafkajs keeps request order per partition with idempotence only at one in-flight
      // request per broker; more would allow reordering on retry.
      maxInFlightRequests: 1,
      transactionalId: options.transactionalId,
      transactionTimeout: 60_000,
    });
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.#compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.#connected = true;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Sends and waits for acks=all. Throws RetryableError when the broker does not acknowledge
   * within the send timeout. NOTE: kafkajs keeps retrying a timed-out send in the background, so
   * a record reported as failed may still be written: callers promise at-least-once, never a
   * false success.
   */
  async send(records: OutgoingRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return [];
    const topicMessages = groupByTopic(records);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RetryableError(`Kafka did not acknowledge within ${this.#sendTimeoutMs} ms`)), this.#sendTimeoutMs);
    });
    try {
      return await Promise.race([this.producer.sendBatch({ topicMessages, acks: -1, compression: this.#compression }), timeout]);
    } catch (error) {
      if (error instanceof RetryableError) throw error;
      throw new RetryableError(`Kafka write failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts a transaction (transactional producers only). */
  transaction(): Promise<Transaction> {
    return this.producer.transaction();
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
    await this.producer.disconnect();
  }
}

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
