import type { DestinationPlugin } from '../destination.ts';
import { EmailDestinationConfig } from './config.ts';
import { emailExamples } from './examples.ts';

export const emailDestination = {
  type: 'email',
  description:
    'Sends events by email over SMTP (nodemailer) from subject and body templates; optional digest of each batch.',
  configSchema: EmailDestinationConfig,
  // NOTE: secrets are split from the config at the top level: smtp.password makes smtp a credential.
  secrets: ['smtp'],
  healthCheckProves: {
    authenticate: { proves: 'the SMTP server accepted the connection and, when configured, the login' },
    permission: { unproven: 'the sender and recipients are checked when the first message is sent' },
    check: { proves: 'the SMTP server answered' },
  },
  endpoint: (config) => {
    const smtp = config.smtp as { host?: unknown; port?: unknown } | undefined;
    return typeof smtp?.host === 'string' && typeof smtp.port === 'number'
      ? { host: smtp.host, port: smtp.port, field: 'smtp.host' }
      : undefined;
  },
  examples: emailExamples,
  maxBatchSize: 100,
  create: async (config, context) => (await import('./email.destination.ts')).createEmailDestination(config, context),
} satisfies DestinationPlugin<EmailDestinationConfig>;
