import type { MikroORM } from '@mikro-orm/postgresql';
import type { ForbiddenDatabases, Logger, OutboundPolicy, SecretKeyring } from '@muxly/common';
import type { ConfigPublisher } from './config/publisher.ts';
import type { DestinationPositions } from './positions/start-from.ts';
import type { TemplateCatalog } from './templates/catalog.ts';

/** What the HTTP handlers need, passed in explicitly (no module-level singletons). */
export interface ControlPlaneContext {
  orm: MikroORM;
  keyring: SecretKeyring;
  templates: TemplateCatalog;
  publisher: ConfigPublisher;
  logger: Logger;
  maxPageSize: number;
  /** The operator's outbound settings (`outbound`), applied by connection tests as the router applies them. */
  outbound: OutboundPolicy;
  /** Databases no destination may reach: this control plane's own and `router.forbiddenDatabases`. */
  forbiddenDatabases: ForbiddenDatabases;
  /** Destinations' start positions and consumer groups (absent: positions are left to Kafka's defaults). */
  positions?: DestinationPositions;
  /** How long a deleted destination's consumer group is kept. */
  deletedDestinationGroupGraceSeconds?: number;
}
