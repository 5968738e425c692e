import { Type } from '@sinclair/typebox';
import { HttpListener, Section } from './shared.ts';

export const TransformerSettings = Section({
  health: HttpListener(9101, 'Health and metrics endpoints.'),
  groupId: Type.String({ default: 'muxly-transformer' }),
  chunkSize: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 5_000,
    description: 'Most raw records handed to one processing step (one or more transactions).',
  }),
  maxTransactionBytes: Type.Integer({
    minimum: 100_000,
    default: 4_000_000,
    description:
      'Output bytes (events and dead letters) after which a transaction is committed and the next begun: larger is faster, smaller commits sooner.',
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
