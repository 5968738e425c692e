import type { TSchema } from '@sinclair/typebox';
import type { ForbiddenDatabases, OutboundPolicy } from '@muxly/common';
import type { TemplateExample } from '@muxly/schemas';
import { databaseExamples } from './database/examples.ts';
import { emailExamples } from './email/examples.ts';
import { fileExamples } from './file/examples.ts';
import { prometheusExamples } from './prometheus/examples.ts';
import { s3Examples } from './s3/examples.ts';
import { slackExamples } from './slack/examples.ts';
import { webhookExamples } from './webhook/examples.ts';
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
  /** Ready-made configurations, each with the routing rule that feeds it. */
  examples: TemplateExample[];
  /** The control plane's connection test: creates the destination, runs its healthcheck, closes it. */
  check?: (config: Record<string, unknown>, options: DestinationCheckOptions) => Promise<CheckStep[]>;
}

export interface DestinationCheckOptions {
  signal: AbortSignal;
  /** The operator's outbound settings, as the router applies them. */
  outbound: OutboundPolicy;
  /** Databases no destination may reach (the control plane's own among them). */
  forbiddenDatabases: ForbiddenDatabases;
}

export interface CheckStep {
  name: 'config' | 'connect' | 'authenticate' | 'permission' | 'check';
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

type AccessStep = 'authenticate' | 'permission' | 'check';
type Checked = Exclude<DestinationType, 'prometheus'>;

// What a passed health check of each type proves, step by step; a step a type cannot prove
// without delivering an event is skipped with the reason.
const PROVES: Record<Checked, Partial<Record<AccessStep, string>> & { check: string }> = {
  file: { check: 'the folder of the file exists inside the base folder (it is created there when missing)' },
  webhook: { check: 'the receiver answered a HEAD request; no event was sent' },
  database: {
    authenticate: 'the database server accepted the user',
    permission: 'the user may INSERT into the table (and UPDATE it, for upserts)',
    check: 'the table and every mapped column exist',
  },
  s3: {
    authenticate: 'S3 accepted the access key',
    permission: 'the key may access the bucket (HeadBucket; no object is written by the test)',
    check: 'the bucket exists',
  },
  slack: { authenticate: 'Slack accepted the token (auth.test)', check: 'the Slack Web API answered' },
  email: {
    authenticate: 'the SMTP server accepted the connection and, when configured, the login',
    check: 'the SMTP server answered',
  },
};
const NOT_PROVEN: Record<Checked, Partial<Record<AccessStep, string>>> = {
  file: { authenticate: 'a file has no credentials', permission: 'writing is tried on the first delivery' },
  webhook: {
    authenticate: 'the receiver checks the signature and headers on delivery; the test sends no event',
    permission: 'the receiver decides on delivery',
  },
  database: {},
  s3: {},
  slack: { permission: 'the chat:write scope and the channel are checked when the first message is posted' },
  email: { permission: 'the sender and recipients are checked when the first message is sent' },
};
const ORDER: readonly AccessStep[] = ['authenticate', 'permission', 'check'];

/** Which step a failed health check fails: the one a refusal names, else the first the type proves. */
function failedStep(
  type: Checked,
  error: unknown,
  RefusedError: new (...args: never[]) => { step: AccessStep },
): AccessStep {
  if (error instanceof RefusedError) return error.step;
  const code = (error as { code?: unknown }).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission';
  return ORDER.find((step) => PROVES[type][step] !== undefined) ?? 'check';
}

/** Creates the destination from the effective config, asks its peer, and releases it. */
async function checkDestination(
  type: Checked,
  config: Record<string, unknown>,
  { signal, outbound, forbiddenDatabases }: DestinationCheckOptions,
): Promise<CheckStep[]> {
  const [{ destinationRegistry }, { BlockedAddressError, createLogger, errorMessage, RefusedError }, { Registry }] =
    await Promise.all([import('./registry.ts'), import('@muxly/common'), import('prom-client')]);
  let started = Date.now();
  const step = (name: CheckStep['name'], status: CheckStep['status'], detail: string): CheckStep => ({
    name,
    status,
    detail,
    durationMs: Date.now() - started,
  });
  let instance;
  try {
    instance = await destinationRegistry[type].create(config as never, {
      destinationId: `check-${type}`,
      log: createLogger({ service: 'router', silent: true }),
      metrics: new Registry(),
      signal,
      outbound,
      forbiddenDatabases,
    });
  } catch (error) {
    return [step('config', 'failed', errorMessage(error))];
  }
  const steps: CheckStep[] = [step('config', 'ok', 'the configuration is valid')];
  started = Date.now();
  try {
    await instance.healthcheck();
    for (const name of ORDER) {
      const proven = PROVES[type][name];
      steps.push(
        proven
          ? step(name, 'ok', proven)
          : step(name, 'skipped', NOT_PROVEN[type][name] ?? `the ${type} check does not test this`),
      );
    }
  } catch (error) {
    if (error instanceof BlockedAddressError) {
      // The outbound address guard refused the peer's address: nothing left the host.
      steps.push(step('connect', 'failed', errorMessage(error)));
      for (const name of ORDER) steps.push(step(name, 'skipped', 'an earlier step failed'));
      return steps;
    }
    const failed = failedStep(type, error, RefusedError);
    // A peer that answered with a refusal of a later step has accepted the credentials first.
    const authenticated =
      error instanceof RefusedError && failed !== 'authenticate' ? PROVES[type].authenticate : undefined;
    for (const name of ORDER) {
      const position = ORDER.indexOf(name) - ORDER.indexOf(failed);
      if (position === 0) steps.push(step(name, 'failed', errorMessage(error)));
      else if (position > 0) steps.push(step(name, 'skipped', 'an earlier step failed'));
      else if (name === 'authenticate' && authenticated) steps.push(step(name, 'ok', authenticated));
      else steps.push(step(name, 'skipped', NOT_PROVEN[type][name] ?? 'not tested before the failure'));
    }
  } finally {
    await instance.close().catch(() => undefined);
  }
  return steps;
}

const byType = {
  file: fileDestinationTemplate,
  webhook: webhookDestinationTemplate,
  database: databaseDestinationTemplate,
  s3: s3DestinationTemplate,
  prometheus: prometheusDestinationTemplate,
  slack: slackDestinationTemplate,
  email: emailDestinationTemplate,
} satisfies Record<
  DestinationType,
  Omit<DestinationTemplate, 'type' | 'secrets' | 'check' | 'examples'> & { type: string }
>;

const EXAMPLES: Record<DestinationType, TemplateExample[]> = {
  file: fileExamples,
  webhook: webhookExamples,
  database: databaseExamples,
  s3: s3Examples,
  prometheus: prometheusExamples,
  slack: slackExamples,
  email: emailExamples,
};

export const destinationTemplates: readonly DestinationTemplate[] = Object.entries(byType).map(([name, template]) => {
  const type = name as DestinationType;
  return {
    ...template,
    type,
    secrets: SECRETS[type],
    examples: EXAMPLES[type],
    // The prometheus exporter binds its port: a check from the control plane's host would test
    // nothing the router sees, and could collide with a running exporter.
    ...(type === 'prometheus'
      ? {}
      : {
          check: (config: Record<string, unknown>, options: DestinationCheckOptions) =>
            checkDestination(type, config, options),
        }),
  };
});
