import type { TSchema } from '@sinclair/typebox';
import type { Registry } from 'prom-client';
import type { ForbiddenDatabases, Logger, OutboundPolicy } from '@muxly/common';
import type { UnifiedEvent } from '@muxly/schemas';

/** One event to deliver, with where it came from (S3 keys and idempotency derive from this). */
export interface DeliveryItem {
  /** The event after the matching rule's transformations. */
  event: UnifiedEvent | Record<string, unknown>;
  /** The event id scoped by its source (`<source type>/<source id>/<id>`), stable across redeliveries. */
  id: string;
  topic: string;
  partition: number;
  offset: string;
  /**
   * The W3C traceparent of this delivery attempt when the event is traced: a destination that
   * makes HTTP requests sends it as the `traceparent` header.
   */
  traceparent?: string | undefined;
}

/**
 * What a destination answers for a batch. Throwing a RetryableError (or ThrottledError with
 * retryAfterMs) retries the whole batch; throwing a PermanentError dead-letters the whole batch;
 * a result reports partial success: the `failures` are retried or given up according to their
 * error's class, the `notSent` items are sent again with them, every other item counts as delivered.
 */
export interface SendResult {
  failures?: { index: number; error: Error }[];
  /**
   * Items not tried because an earlier one failed transiently (a destination that sends in order
   * stops at an outage or a rate limit): retried without counting an attempt, so an event is never
   * dead-lettered or skipped without having been tried.
   */
  notSent?: number[];
}

export interface DestinationContext {
  destinationId: string;
  log: Logger;
  /** Register destination-specific metrics here (bounded labels only). */
  metrics: Registry;
  /** Aborted when the router stops or the destination is removed. */
  signal: AbortSignal;
  /** The operator's limits (`outbound` settings): where files may be written. */
  outbound: OutboundPolicy;
  /** Databases no destination may write to (the control plane's own among them). */
  forbiddenDatabases: ForbiddenDatabases;
}

export interface DestinationInstance {
  send(batch: DeliveryItem[]): Promise<SendResult | void>;
  /** Resolves when the peer answers (used by /readyz and the control plane's connection test). */
  healthcheck(): Promise<void>;
  /** Flush and release resources; called once on shutdown or reconfiguration. */
  close(): Promise<void>;
}

/** The contract every destination type implements (docs/development.md "Adding a destination"). */
export interface DestinationPlugin<Config = unknown> {
  type: string;
  /** JSON Schema of `config`; unknown fields are errors. Defaults apply when the config is loaded. */
  configSchema: TSchema;
  /** Most events one send() receives. */
  maxBatchSize?: number;
  create(config: Config, context: DestinationContext): Promise<DestinationInstance>;
}
