import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Pushgateway, Registry } from 'prom-client';
import { ConfigurationError, errorMessage, guardedAgents, InvalidEventError, outboundGuard } from '@muxly/common';
import { compileGetter, compileRule, parsePath, RuleCompileError, templateText } from '@muxly/schemas';
import type { DestinationContext, DestinationInstance, SendResult } from '../destination.ts';
import { resolveConfig } from '../plugin-config.ts';
import { PrometheusDestinationConfig, type PrometheusMetricDefinition } from './config.ts';

export const OVERFLOW_LABEL_VALUE = '__overflow__';

interface CompiledMetric {
  name: string;
  when: ((event: unknown) => boolean) | undefined;
  /** Reads and checks the sample without recording it (throws InvalidEventError); the closure records it. */
  prepare(event: unknown): () => void;
}

function compileMetric(
  definition: PrometheusMetricDefinition,
  index: number,
  registry: Registry,
  maxSeries: number,
  overflows: Counter,
): CompiledMetric {
  const place = `config.metrics[${index}]`;
  const labelNames = Object.keys(definition.labels);
  let labelGetters: ((event: unknown) => unknown)[];
  let getValue: ((event: unknown) => unknown) | undefined;
  let when: CompiledMetric['when'];
  try {
    labelGetters = labelNames.map((label) => compileGetter(parsePath(definition.labels[label])));
    getValue = definition.value === undefined ? undefined : compileGetter(parsePath(definition.value));
    if (definition.when !== undefined) {
      const evaluate = compileRule({ condition: definition.when }, `${place}.when`);
      when = (event) => evaluate(event).matched;
    }
  } catch (error) {
    throw new ConfigurationError(
      error instanceof RuleCompileError ? error.message : `${place}: ${errorMessage(error)}`,
    );
  }
  if (definition.type !== 'counter' && getValue === undefined)
    throw new ConfigurationError(`${place}.value: a ${definition.type} needs the JSONPath of its number`);
  if (definition.type !== 'histogram' && definition.buckets)
    throw new ConfigurationError(`${place}.buckets: only histograms have buckets`);

  const common = { name: definition.name, help: definition.help, labelNames, registers: [registry] };
  const metric =
    definition.type === 'counter'
      ? new Counter(common)
      : definition.type === 'gauge'
        ? new Gauge(common)
        : new Histogram({
            ...common,
            ...(definition.buckets ? { buckets: [...definition.buckets].sort((a, b) => a - b) } : {}),
          });

  // NOTE: the cardinality limit is per destination instance; it resets when the destination is
  // reconfigured, as the exporter's series do.
  const seen = new Set<string>();
  const overflowLabels = Object.fromEntries(labelNames.map((label) => [label, OVERFLOW_LABEL_VALUE]));

  return {
    name: definition.name,
    when,
    prepare(event) {
      let number = 1;
      if (getValue) {
        const value = getValue(event);
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          throw new InvalidEventError(
            `metric ${definition.name}: ${definition.value} is ${value === undefined ? 'missing' : `not a finite number (${JSON.stringify(value)})`}`,
          );
        }
        number = value;
      }
      if (definition.type === 'counter' && number < 0)
        throw new InvalidEventError(`metric ${definition.name}: a counter cannot decrease (value ${number})`);
      let labels: Record<string, string> = {};
      const values = labelGetters.map((get) => templateText(get(event)));
      const key = values.join('\u0000');
      if (seen.has(key) || seen.size < maxSeries) {
        seen.add(key);
        labelNames.forEach((label, position) => (labels[label] = values[position]!));
      } else {
        labels = overflowLabels;
        overflows.inc({ metric: definition.name });
      }
      return () => {
        if (metric instanceof Counter) metric.inc(labels, number);
        else if (metric instanceof Gauge) metric.set(labels, number);
        else metric.observe(labels, number);
      };
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: Error & { code?: string }) =>
      reject(
        new ConfigurationError(`prometheus exporter cannot listen on ${host}:${port}: ${error.code ?? error.message}`),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

/** Creates a prometheus destination (the descriptor in index.ts imports this module when one is created). */
export async function createPrometheusDestination(
  rawConfig: PrometheusDestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  const config = resolveConfig(PrometheusDestinationConfig, rawConfig, 'prometheus');
  const names = config.metrics.map((metric) => metric.name);
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate) throw new ConfigurationError(`config.metrics: metric "${duplicate}" is declared twice`);

  // The exported series live in their own registry: the router's own metrics are another endpoint.
  const registry = new Registry();
  const overflows = new Counter({
    name: 'muxly_exporter_series_overflow_total',
    help: 'Samples folded into the __overflow__ series because a metric reached its cardinality limit.',
    labelNames: ['metric'],
    registers: [registry],
  });
  const unmatched = new Counter({
    name: 'muxly_exporter_unmatched_events_total',
    help: 'Events that matched no declared metric.',
    registers: [registry],
  });
  const metrics = config.metrics.map((definition, index) =>
    compileMetric(definition, index, registry, config.maxSeriesPerMetric, overflows),
  );

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== config.path) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${errorMessage(error)}\n`),
    );
  });
  await listen(server, config.host, config.port);
  context.log.info('prometheus exporter listening', {
    destination: context.destinationId,
    host: config.host,
    port: config.port,
    path: config.path,
  });

  let pushTimer: NodeJS.Timeout | undefined;
  let push: (() => Promise<void>) | undefined;
  if (config.pushgateway) {
    const { url, job, intervalSeconds } = config.pushgateway;
    // The push goes through the outbound address guard, checked on the address connected to.
    const agent = guardedAgents(outboundGuard(context.outbound), { keepAlive: false }).forUrl(url);
    const gateway = new Pushgateway(url, { timeout: 10_000, agent }, registry);
    push = async () => {
      try {
        await gateway.pushAdd({ jobName: job, groupings: { destination: context.destinationId } });
      } catch (error) {
        // Best effort: the exporter endpoint stays the source of truth; a missed push is retried next interval.
        context.log.warn('pushgateway push failed', {
          destination: context.destinationId,
          error: errorMessage(error),
        });
      }
    };
    pushTimer = setInterval(() => void push!(), intervalSeconds * 1000);
    pushTimer.unref();
  }

  return {
    async send(batch): Promise<SendResult | void> {
      const failures: { index: number; error: Error }[] = [];
      batch.forEach((item, index) => {
        try {
          // All samples of an event are checked before any is recorded: an invalid event
          // (dead-lettered) must not leave half of its samples in the exporter.
          const samples = metrics
            .filter((metric) => !metric.when || metric.when(item.event))
            .map((metric) => metric.prepare(item.event));
          if (samples.length === 0) unmatched.inc();
          for (const record of samples) record();
        } catch (error) {
          failures.push({ index, error: error instanceof Error ? error : new Error(String(error)) });
        }
      });
      return failures.length > 0 ? { failures } : undefined;
    },
    async healthcheck() {
      if (!server.listening) throw new ConfigurationError('prometheus exporter is not listening');
    },
    async close() {
      if (pushTimer) clearInterval(pushTimer);
      await push?.();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
