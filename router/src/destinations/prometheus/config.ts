import { Type, type Static } from '@sinclair/typebox';
import { RuleCondition } from '@muxly/schemas';

const JsonPath = Type.String({ pattern: '^\\$' });

export const PrometheusMetricDefinition = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$',
      maxLength: 200,
      description: 'Prometheus metric name, e.g. muxly_signups_total.',
    }),
    type: Type.Union([Type.Literal('counter'), Type.Literal('gauge'), Type.Literal('histogram')]),
    help: Type.String({ minLength: 1, maxLength: 500, default: 'Exported by Muxly.' }),
    when: Type.Optional(RuleCondition),
    value: Type.Optional(
      Type.String({
        pattern: '^\\$',
        description:
          'JSONPath of the number: gauge sets it, histogram observes it, counter adds it (a counter without `value` counts events).',
      }),
    ),
    labels: Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', maxLength: 100 }), JsonPath, {
      default: {},
      description: 'Label name → JSONPath; the label set is declared here, so it is bounded.',
    }),
    buckets: Type.Optional(
      Type.Array(Type.Number(), { minItems: 1, maxItems: 50, description: 'Histogram upper bounds.' }),
    ),
  },
  { additionalProperties: false },
);

export const PrometheusDestinationConfig = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address the exporter listens on.' }),
    port: Type.Integer({ minimum: 1, maximum: 65_535, default: 9464 }),
    path: Type.String({ pattern: '^/', default: '/metrics' }),
    metrics: Type.Array(PrometheusMetricDefinition, { minItems: 1, maxItems: 200 }),
    maxSeriesPerMetric: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description:
        'Cardinality limit: label combinations beyond it are folded into one series whose labels are all "__overflow__".',
    }),
    pushgateway: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^https?://' }),
          job: Type.String({ minLength: 1, default: 'muxly' }),
          intervalSeconds: Type.Integer({ minimum: 1, default: 15 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PrometheusDestinationConfig = Static<typeof PrometheusDestinationConfig>;
export type PrometheusMetricDefinition = Static<typeof PrometheusMetricDefinition>;
