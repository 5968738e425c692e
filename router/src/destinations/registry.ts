import type { DestinationPlugin } from './destination.ts';
import { fileDestination } from './file/index.ts';
import { webhookDestination } from './webhook/index.ts';
import { databaseDestination } from './database/index.ts';
import { s3Destination } from './s3/index.ts';
import { prometheusDestination } from './prometheus/index.ts';
import { slackDestination } from './slack/index.ts';
import { emailDestination } from './email/index.ts';

/** Every destination type Muxly ships. A new destination is a folder and one line here. */
export const destinationRegistry = {
  file: fileDestination,
  webhook: webhookDestination,
  database: databaseDestination,
  s3: s3Destination,
  prometheus: prometheusDestination,
  slack: slackDestination,
  email: emailDestination,
} satisfies Record<string, DestinationPlugin<never>>;

export type DestinationType = keyof typeof destinationRegistry;

export function destinationPlugin(type: string): DestinationPlugin<unknown> | undefined {
  return Object.hasOwn(destinationRegistry, type)
    ? (destinationRegistry[type as DestinationType] as DestinationPlugin<unknown>)
    : undefined;
}
