import type { TemplateExample } from '@muxly/schemas';

export const fileExamples: TemplateExample[] = [
  {
    id: 'file-all-events-jsonl',
    title: 'Every event to a JSON-lines file',
    description:
      "Appends every event to a JSON-lines file in the operator's folder, rotated daily: a tail-able audit trail.",
    config: { path: 'events.jsonl', format: 'jsonl', rotateIntervalSeconds: 86_400 },
    rule: {},
    request: { name: 'Events file' },
  },
];
