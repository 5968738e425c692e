import { Type, type Static } from '@sinclair/typebox';
import { ControlPlaneSettings } from './control-plane.ts';
import { IngestSettings } from './ingest.ts';
import { OutboundSettings } from './outbound.ts';
import { PipelineSettings } from './pipeline.ts';
import { RouterSettings } from './router.ts';
import {
  KafkaSettings,
  LivenessSettings,
  LogSettings,
  SchemaRegistrySettings,
  TopicSettings,
  TracingSettings,
} from './shared.ts';
import { TransformerSettings } from './transformer.ts';

/**
 * The settings document shared by every service: one file (and one set of MUXLY_ variables)
 * configures a whole deployment, and each service reads the sections it needs. Validated the
 * same way everywhere, so a setting wrong for one service is reported by all of them.
 */
export const MuxlySettings = Type.Object(
  {
    mode: Type.Union([Type.Literal('local'), Type.Literal('production')], {
      default: 'local',
      description:
        'local: one machine, development secrets accepted. production: every service refuses to start with a published development secret or without its signing and encryption keys.',
    }),
    log: LogSettings,
    kafka: KafkaSettings,
    schemaRegistry: SchemaRegistrySettings,
    topics: TopicSettings,
    liveness: LivenessSettings,
    tracing: TracingSettings,
    ingest: IngestSettings,
    transformer: TransformerSettings,
    router: RouterSettings,
    controlPlane: ControlPlaneSettings,
    outbound: OutboundSettings,
    pipeline: PipelineSettings,
  },
  { additionalProperties: false, $id: 'https://muxly.dev/schemas/settings.json' },
);
export type MuxlySettings = Static<typeof MuxlySettings>;

export * from './pipeline.ts';
export { ApiKeyEntry } from './ingest.ts';
