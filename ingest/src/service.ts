import type { AddressInfo } from 'node:net';
import {
  ConfigurationError,
  createKafka,
  createLogger,
  createMetricsRegistry,
  createTracing,
  ensureTopics,
  KafkaProducer,
  kafkaReadiness,
  ProgressTracker,
  topicNames,
  topicSpecs,
  type Logger,
  type MuxlySettings,
  type RunningService,
} from '@muxly/common';
import { closeGracefully, createIngestServer } from './api/app.ts';
import { RateLimiter } from './api/rate-limiter.ts';
import { RawWriter } from './api/raw.writer.ts';
import { ApiKeyVerifier } from './auth/api-keys.ts';
import { startApiKeySync } from './auth/key-sync.ts';
import { startJobs } from './jobs/commands.consumer.ts';

export interface IngestService extends RunningService {
  port: number;
}

export async function startIngest(
  settings: MuxlySettings,
  logger: Logger = createLogger({ service: 'ingest', level: settings.log.level }),
): Promise<IngestService> {
  const { headersMs, requestMs } = settings.ingest.clientTimeouts;
  if (headersMs > requestMs) {
    throw new ConfigurationError(
      `ingest.clientTimeouts.headersMs (${headersMs}) must not be larger than ingest.clientTimeouts.requestMs (${requestMs})`,
    );
  }
  const kafka = createKafka({ ...settings.kafka, clientId: `${settings.kafka.clientId}-ingest` }, logger);
  const topics = topicNames(settings.topics.prefix);
  const producer = new KafkaProducer(kafka, { sendTimeoutMs: settings.ingest.sendTimeoutMs });
  // A broker that is restarting while ingest starts (deployments start everything at once) is
  // waited for, up to a deadline, instead of failing the start. The commands consumer is part of
  // it: right after a broker start its metadata may not list the topics or their leaders yet.
  const kafkaDeadline = Date.now() + settings.ingest.kafkaStartTimeoutMs;
  await retryUntil(kafkaDeadline, logger, async () => {
    if (settings.topics.create) await ensureTopics(kafka, topicSpecs(topics, settings.topics));
    if (!producer.connected) await producer.connect();
  });

  const tracing = createTracing(settings.tracing, 'ingest', logger);
  const registry = createMetricsRegistry('ingest');
  const progress = new ProgressTracker({ stallAfterMs: settings.liveness.stallAfterMs, registry });
  // Connector syncs on the scheduler's commands (docs/scheduling.md).
  const jobs = settings.ingest.jobs.enabled
    ? await retryUntil(kafkaDeadline, logger, () => startJobs({ kafka, producer, settings, logger, progress, tracing }))
    : null;

  // API keys created through the control plane, when ingest has the service token to fetch them.
  const apiKeys = new ApiKeyVerifier(settings.ingest.apiKeys);
  const auth = settings.controlPlane.auth;
  const keySync = auth.serviceToken
    ? startApiKeySync({
        ...auth.apiKeySync,
        serviceToken: auth.serviceToken,
        verifier: apiKeys,
        staticKeys: settings.ingest.apiKeys,
        logger,
      })
    : null;
  await keySync?.ready;

  let alive = true;
  const server = createIngestServer({
    writer: new RawWriter(producer, {
      topic: topics.raw,
      sendTimeoutMs: settings.ingest.sendTimeoutMs,
      maxInFlight: settings.ingest.maxInFlightSends,
    }),
    apiKeys,
    rateLimiter: new RateLimiter({
      ratePerSecond: settings.ingest.rateLimit.requestsPerSecond,
      burst: settings.ingest.rateLimit.burst,
    }),
    health: {
      registry,
      readiness: { kafka: kafkaReadiness(kafka), consumers: progress.readiness },
      isAlive: () => alive,
      progress,
    },
    logger,
    tracing,
    limits: settings.ingest.limits,
    clientTimeouts: settings.ingest.clientTimeouts,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.ingest.http.port, settings.ingest.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info('ingest API listening', { url: `http://${settings.ingest.http.host}:${port}`, topic: topics.raw });

  return {
    port,
    async stop() {
      alive = false;
      keySync?.stop();
      // Stop accepting connections, let in-flight requests finish (their Kafka acks included).
      await closeGracefully(server);
      // Running syncs stop and report before the producer closes.
      await jobs?.stop();
      await producer.disconnect();
      // Last: the spans of the requests answered during the stop go out too.
      await tracing.shutdown();
    },
  };
}

async function retryUntil<T>(deadline: number, logger: Logger, attempt: () => Promise<T>): Promise<T> {
  for (let delayMs = 500; ; delayMs = Math.min(delayMs * 2, 5_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + delayMs > deadline) throw error;
      logger.warn('Kafka is not reachable yet; retrying', { error: (error as Error).message, retryInMs: delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
