import type { DestinationPlugin } from '../destination.ts';
import { urlEndpoint } from '../endpoint.ts';
import { PrometheusDestinationConfig } from './config.ts';
import { prometheusExamples } from './examples.ts';

export const prometheusDestination = {
  type: 'prometheus',
  description:
    'Turns events into Prometheus counters, gauges and histograms with declared labels, served on an exporter port; optional Pushgateway push.',
  configSchema: PrometheusDestinationConfig,
  secrets: [],
  // No healthCheckProves: the control plane does not run this health check. The exporter binds
  // its port, so a check from the control plane's host would test nothing the router sees, and
  // could collide with a running exporter.
  // The exporter listens (Prometheus connects to it); the only peer it reaches is a Pushgateway.
  endpoint: (config) => urlEndpoint((config.pushgateway as { url?: unknown } | undefined)?.url, 'pushgateway.url'),
  examples: prometheusExamples,
  maxBatchSize: 5000,
  create: async (config, context) =>
    (await import('./prometheus.destination.ts')).createPrometheusDestination(config, context),
} satisfies DestinationPlugin<PrometheusDestinationConfig>;
