import type { TemplateExample } from '@muxly/schemas';

export const prometheusExamples: TemplateExample[] = [
  {
    id: 'prometheus-gauge-per-metric',
    title: 'A Prometheus gauge per metric name',
    description:
      'Exposes the latest value of every metric as the gauge muxly_metric_value, labelled with the metric name and its env dimension, for Prometheus to scrape on :9464/metrics.',
    config: {
      metrics: [
        {
          name: 'muxly_metric_value',
          type: 'gauge',
          help: 'Latest value of each Muxly metric.',
          value: '$.value',
          labels: { metric: '$.name', env: '$.dimensions.env' },
        },
      ],
    },
    rule: { condition: { path: '$.kind', op: 'eq', value: 'metric' } },
    request: { name: 'Prometheus exporter' },
  },
];
