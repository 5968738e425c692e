import type { KafkaMessage } from 'kafkajs';
import type { KafkaProducer } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';

export interface DeadLetter {
  message: KafkaMessage;
  partition: number;
  error: Error;
  attempts: number;
  firstFailedAt: Date;
}

/** Writes dead letters: the original bytes, with where they came from and why they failed. */
export class DeadLetterWriter {
  readonly #producer: KafkaProducer;
  readonly #dlqTopic: string;
  readonly #sourceTopic: string;

  constructor(producer: KafkaProducer, options: { dlqTopic: string; sourceTopic: string }) {
    this.#producer = producer;
    this.#dlqTopic = options.dlqTopic;
    this.#sourceTopic = options.sourceTopic;
  }

  async write(destinationId: string, letters: DeadLetter[]): Promise<void> {
    await this.#producer.send(
      letters.map((letter) => ({
        topic: this.#dlqTopic,
        key: letter.message.key,
        value: letter.message.value ?? Buffer.alloc(0),
        headers: {
          [DLQ_HEADERS.originalTopic]: this.#sourceTopic,
          [DLQ_HEADERS.originalPartition]: String(letter.partition),
          [DLQ_HEADERS.originalOffset]: letter.message.offset,
          [DLQ_HEADERS.stage]: 'router',
          [DLQ_HEADERS.destinationId]: destinationId,
          [DLQ_HEADERS.errorClass]: letter.error.name,
          [DLQ_HEADERS.errorMessage]: letter.error.message.slice(0, 2_000),
          [DLQ_HEADERS.attempts]: String(letter.attempts),
          [DLQ_HEADERS.firstFailedAt]: letter.firstFailedAt.toISOString(),
        },
      })),
    );
  }
}
