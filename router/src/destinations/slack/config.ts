import { Type, type Static } from '@sinclair/typebox';

export const SlackDestinationConfig = Type.Object(
  {
    token: Type.String({
      pattern: '^xox[a-z]-',
      description: 'Bot token (xoxb-…) with chat:write. A credential: stored encrypted.',
    }),
    channel: Type.String({ minLength: 1, description: 'Channel id (C…) or name the bot is a member of.' }),
    text: Type.String({
      minLength: 1,
      maxLength: 4000,
      description: 'Message template, e.g. "New signup from {{ $.dimensions.country }}".',
    }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    iconEmoji: Type.Optional(Type.String({ pattern: '^:[a-z0-9_+-]+:$' })),
    unfurlLinks: Type.Boolean({ default: false }),
    slackApiUrl: Type.String({
      pattern: '^https?://.*/$',
      default: 'https://slack.com/api/',
      description: 'Web API base URL (ends with /); tests and proxies change it.',
    }),
    timeoutMs: Type.Integer({ minimum: 1000, maximum: 120_000, default: 10_000 }),
  },
  { additionalProperties: false },
);
export type SlackDestinationConfig = Static<typeof SlackDestinationConfig>;
