import type { TSchema } from '@sinclair/typebox';
import type { Registry } from 'prom-client';
import type { ForbiddenDatabases, Logger, OutboundPolicy } from '@muxly/common';
import type { AccessStep, PeerEndpoint, TemplateExample, UnifiedEvent } from '@muxly/schemas';

/** One event to deliver, with where it came from (S3 keys and idempotency derive from this). */
export interface DeliveryItem {
  /** The event after the matching rule's transformations. */
  event: UnifiedEvent | Record<string, unknown>;
  /**
   * The event's JSON exactly as it was read from the events topic, when no rule changed the event:
   * a destination may write these bytes instead of serializing `event` (see eventJson).
   */
  json?: Buffer | undefined;
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

/** What a passed health check proves at one step of the connection test, or why it cannot. */
export type StepProof = { proves: string } | { unproven: string };

/** Per access step: a destination's health check proves it, or cannot without delivering an event. */
export type HealthCheckProof = Record<AccessStep, StepProof>;

/**
 * The contract every destination type implements, and everything Muxly knows about the type: a
 * destination folder exports one of these from its `index.ts` and the registry lists it
 * (docs/development.md "Adding a destination"). The templates, the connection test and the
 * router read it; nothing outside the folder keeps a table per type.
 */
export interface DestinationPlugin<Config = unknown> {
  type: string;
  /** One sentence for the templates list. */
  description: string;
  /**
   * JSON Schema of `config`; unknown fields are errors. Defaults apply when the config is loaded;
   * the template's defaults and required fields are the schema's.
   */
  configSchema: TSchema;
  /**
   * Top-level config fields that travel encrypted in `credentials` and are never returned.
   * NOTE: secrets are split from the config at the top level only: a nested secret makes its
   * whole top-level field a credential (email's smtp.password).
   */
  secrets: readonly string[];
  /**
   * What a passed healthcheck() proves at each access step of the control plane's connection
   * test. Absent: the connection test does not run the health check (the folder says why).
   */
  healthCheckProves?: HealthCheckProof;
  /** The peer a config (defaults applied, secrets merged) reaches, for the resolve and connect steps. */
  endpoint(config: Record<string, unknown>): PeerEndpoint | undefined;
  /** Ready-made configurations, each with the routing rule that feeds it. */
  examples: TemplateExample[];
  /** Most events one send() receives. */
  maxBatchSize: number;
  /**
   * Creates a destination. NOTE: imports the implementation (and its client library) only when
   * called: the control plane reads the rest of this object without loading any of it.
   */
  create(config: Config, context: DestinationContext): Promise<DestinationInstance>;
}
