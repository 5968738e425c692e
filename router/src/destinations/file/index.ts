import type { DestinationPlugin } from '../destination.ts';
import { FileDestinationConfig } from './config.ts';
import { fileExamples } from './examples.ts';

export const fileDestination = {
  type: 'file',
  description:
    "Appends events to a file under the operator's base folder as JSON lines or CSV, with rotation by size and time.",
  configSchema: FileDestinationConfig,
  secrets: [],
  healthCheckProves: {
    authenticate: { unproven: 'a file has no credentials' },
    permission: { unproven: 'writing is tried on the first delivery' },
    check: { proves: 'the folder of the file exists inside the base folder (it is created there when missing)' },
  },
  // A local file: nothing to resolve or connect to.
  endpoint: () => undefined,
  examples: fileExamples,
  maxBatchSize: 1_000,
  create: async (config, context) => (await import('./file.destination.ts')).createFileDestination(config, context),
} satisfies DestinationPlugin<FileDestinationConfig>;
