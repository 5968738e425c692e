import type { KafkaProducer } from '@muxly/common';
import type { DeliveryReport } from '@muxly/schemas';

/**
 * Publishes compact delivery reports to `muxly.deliveries` (replay progress; the live tap reads
 * them too). A report is information, never part of delivery: a failed publish is logged by the
 * caller and delivery goes on.
 */
export class DeliveryReports {
  readonly #producer: KafkaProducer;
  readonly #topic: string;

  constructor(producer: KafkaProducer, topic: string) {
    this.#producer = producer;
    this.#topic = topic;
  }

  async publish(reports: Omit<DeliveryReport, 'at'>[]): Promise<void> {
    if (reports.length === 0) return;
    const at = new Date().toISOString();
    await this.#producer.send(
      reports.map((report) => ({
        topic: this.#topic,
        key: report.destinationId,
        value: JSON.stringify({ ...report, at } satisfies DeliveryReport),
      })),
    );
  }
}
