import type { TemplateExample } from '@muxly/schemas';

export const slackExamples: TemplateExample[] = [
  {
    id: 'slack-error-threshold-alert',
    title: 'Slack alert when an error metric passes a threshold',
    description: 'Posts to a channel whenever a metric named `errors` arrives with a value above 100.',
    config: {
      text: ':rotating_light: {{ $.name }} = {{ $.value }} on {{ $.dimensions.service }} at {{ $.timestamp }}',
    },
    rule: {
      condition: {
        all: [
          { path: '$.name', op: 'eq', value: 'errors' },
          { path: '$.value', op: 'gt', value: 100 },
        ],
      },
    },
    request: {
      name: 'Error alerts',
      config: { channel: '#alerts' },
      credentials: { token: 'xoxb-replace-with-the-bot-token' },
    },
  },
];
