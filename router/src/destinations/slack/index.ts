import type { DestinationPlugin } from '../destination.ts';
import { urlEndpoint } from '../endpoint.ts';
import { SlackDestinationConfig } from './config.ts';
import { slackExamples } from './examples.ts';

export const slackDestination = {
  type: 'slack',
  description:
    'Posts one Slack message per event (chat.postMessage) from a message template; honors Slack rate limits.',
  configSchema: SlackDestinationConfig,
  secrets: ['token'],
  healthCheckProves: {
    authenticate: { proves: 'Slack accepted the token (auth.test)' },
    permission: { unproven: 'the chat:write scope and the channel are checked when the first message is posted' },
    check: { proves: 'the Slack Web API answered' },
  },
  endpoint: (config) => urlEndpoint(config.slackApiUrl, 'slackApiUrl'),
  examples: slackExamples,
  maxBatchSize: 50,
  create: async (config, context) => (await import('./slack.destination.ts')).createSlackDestination(config, context),
} satisfies DestinationPlugin<SlackDestinationConfig>;
