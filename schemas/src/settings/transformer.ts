import { Type } from '@sinclair/typebox';
import { HttpListener, Section } from './shared.ts';

export const TransformerSettings = Section({
  health: HttpListener(9101, 'Health and metrics endpoints.'),
  groupId: Type.String({ default: 'muxly-transformer' }),
  commitIntervalMs: Type.Integer({
    minimum: 1,
    maximum: 60_000,
    default: 100,
    description:
      'Longest time one transaction stays open while raw records keep coming (it commits sooner once everything fetched is in it).',
  }),
  maxTransactionBytes: Type.Integer({
    minimum: 100_000,
    default: 4_000_000,
    description:
      'Output bytes (events and dead letters) after which a transaction is committed and the next begun: larger is faster, smaller commits sooner.',
  }),
  commitTimeoutMs: Type.Integer({
    minimum: 1_000,
    default: 30_000,
    description:
      'Longest wait for a commit or a Kafka connection; past it the consumer and producer are replaced and work resumes from the committed offsets.',
  }),
  maxBytesPerPartition: Type.Integer({
    minimum: 65_536,
    default: 1_048_576,
    description: 'Most raw bytes one fetch takes from one partition.',
  }),
  sessionTimeoutMs: Type.Integer({
    minimum: 6_000,
    default: 30_000,
    description:
      'Consumer group session timeout: how long a crashed instance keeps its partitions before the group moves them.',
  }),
  dedupWindowSize: Type.Integer({
    minimum: 0,
    default: 100_000,
    description: 'How many recent event ids each instance remembers to drop repeats.',
  }),
  instanceId: Type.Optional(
    Type.String({
      description:
        'Stable per instance; names the transactional id so a restarted instance fences its predecessor. Defaults to the host name.',
    }),
  ),
});
