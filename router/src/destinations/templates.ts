import type { TSchema } from '@sinclair/typebox';
import { databaseDestinationTemplate } from './database/config.ts';
import { emailDestinationTemplate } from './email/config.ts';
import { fileDestinationTemplate } from './file/config.ts';
import { prometheusDestinationTemplate } from './prometheus/config.ts';
import type { DestinationType } from './registry.ts';
import { s3DestinationTemplate } from './s3/config.ts';
import { slackDestinationTemplate } from './slack/config.ts';
import { webhookDestinationTemplate } from './webhook/config.ts';

// The destination templates the control plane lists at GET /api/v1/templates. Built from each
// destination's config.ts only: importing this module loads no client library and does no I/O
// (the connection check imports the destinations lazily, when it runs).

export interface DestinationTemplate {
  kind: 'destination';
  type: DestinationType;
  description: string;
  /** JSON Schema of the destination's config; unknown fields are errors. */
  configSchema: TSchema;
  defaults: Record<string, unknown>;
  required: string[];
  /** Top-level config fields that travel encrypted in `credentials` and are never returned. */
  secrets: string[];
  /** The control plane's connection test: creates the destination, runs its healthcheck, closes it. */
  check?: (config: Record<string, unknown>, options: { signal: AbortSignal }) => Promise<CheckStep[]>;
}

export interface CheckStep {
  name: 'config' | 'check';
  status: 'ok' | 'failed' | 'skipped';
  detail: string;
  durationMs: number;
}

// NOTE: a nested secret makes its whole top-level field a credential (email's smtp.password).
// Webhook headers usually carry an Authorization value, so they are a credential too.
const SECRETS: Record<DestinationType, string[]> = {
  file: [],
  webhook: ['secret', 'headers'],
  database: ['connectionString'],
  s3: ['secretAccessKey'],
  prometheus: [],
  slack: ['token'],
  email: ['smtp'],
};

/** Creates the destination from the effective config, asks its peer, and releases it. */
async function checkDestination(type: DestinationType, config: Record<string, unknown>, signal: AbortSignal): Promise<CheckStep[]> {
  const [{ destinationRegistry }, { createLogger, errorMessage }, { Registry }] = await Promise.all([
    import('./registry.ts'),
    import('@muxly/common'),
    import('prom-client'),
  ]);
  const started = Date.now();
  const step = (name: CheckStep['name'], status: CheckStep['status'], detail: string): CheckStep => ({ name, status, detail, durationMs: Date.now() - started });
  let instance;
  try {
    instance = await destinationRegistry[type].create(config as never, { destinationId: `check-${type}`, log: createLogger({ service: 'router', silent: true }), metrics: new Registry(), signal });
  } catch (error) {
    return [step('config', 'failed', errorMessage(error))];
  }
  try {
    await instance.healthcheck();
    return [step('config', 'ok', 'the configuration is valid'), step('check', 'ok', `the ${type} destination answered its health check`)];
  } catch (error) {
    return [step('config', 'ok', 'the configuration is valid'), step('check', 'failed', errorMessage(error))];
  } finally {
    await instance.close().catch(() => undefined);
  }
}

const byType = {
  file: fileDestinationTemplate,
  webhook: webhookDestinationTemplate,
  database: databaseDestinationTemplate,
  s3: s3DestinationTemplate,
  prometheus: prometheusDestinationTemplate,
  slack: slackDestinationTemplate,
  email: emailDestinationTemplate,
} satisfies Record<DestinationType, Omit<DestinationTemplate, 'type' | 'secrets' | 'check'> & { type: string }>;

export const destinationTemplates: readonly DestinationTemplate[] = Object.entries(byType).map(([name, template]) => {
  const type = name as DestinationType;
  return {
    ...template,
    type,
    secrets: SECRETS[type],
    // The prometheus exporter binds its port: a check from the control plane's host would test
    // nothing the router sees, and could collide with a running exporter.
    ...(type === 'prometheus' ? {} : { check: (config: Record<string, unknown>, options: { signal: AbortSignal }) => checkDestination(type, config, options.signal) }),
  };
});
