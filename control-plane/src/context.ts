import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger, SecretKeyring } from '@muxly/common';
import type { ConfigPublisher } from './config/publisher.ts';
import type { TemplateCatalog } from './templates/catalog.ts';

/** What the HTTP handlers need, passed in explicitly (no module-level singletons). */
export interface ControlPlaneContext {
  orm: MikroORM;
  keyring: SecretKeyring;
  templates: TemplateCatalog;
  publisher: ConfigPublisher;
  logger: Logger;
  maxPageSize: number;
  /** The connectors' outbound allow-list (`ingest.jobs.allowAddresses`), for connection tests. */
  connectorAllowAddresses: readonly string[];
}
