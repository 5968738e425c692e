import { readFileSync } from 'node:fs';
import type { Kafka, KafkaConfig, Mechanism, SASLOptions } from 'kafkajs';
import { ConfigurationError, errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { skipIdleRequestQueueChecks } from './kafkajs-fixes.ts';
import { Kafka as KafkaClient, logLevel as KafkaLogLevel } from './kafkajs-loader.ts';
import { ClientCredentialsTokenProvider, oauthBearerMechanism } from './oauth-token.ts';

skipIdleRequestQueueChecks();

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  /** PEM file of a private CA that signed the brokers' certificates (with `ssl`). */
  sslCaFile?: string | undefined;
  /** The settings schema says which fields each mechanism takes (kafka.sasl). */
  sasl?: SaslSettings | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

// kafkajs logs retriable broker answers (CONCURRENT_TRANSACTIONS, NOT_COORDINATOR, leader
// elections) at ERROR while it retries them itself; those are noise at debug level.
const RETRIABLE_NOISE =
  /CONCURRENT_TRANSACTIONS|NOT_COORDINATOR|COORDINATOR_LOAD_IN_PROGRESS|COORDINATOR_NOT_AVAILABLE|LEADER_NOT_AVAILABLE|NOT_LEADER|REBALANCE_IN_PROGRESS|rebalancing|coordinator is (not available|loading)|not the correct coordinator|no leader|another request is currently being processed|retriable|Restarting the consumer/i;

export interface SaslSettings {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512' | 'oauthbearer';
  username?: string | undefined;
  password?: string | undefined;
  tokenUrl?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  scope?: string | undefined;
}

export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: settings.brokers,
    // NOTE: verification stays on; a private CA is added, never `rejectUnauthorized: false`.
    ssl: settings.ssl ? (settings.sslCaFile ? { ca: [readCaFile(settings.sslCaFile)] } : true) : false,
    connectionTimeout: settings.connectionTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    logLevel: KafkaLogLevel.INFO,
    logCreator: () => (entry) => {
      const { message, ...fields } = entry.log;
      const text = `kafka: ${String(message)}`;
      const details = { namespace: entry.namespace, ...fields };
      const retriable =
        RETRIABLE_NOISE.test(String(message)) ||
        RETRIABLE_NOISE.test(String(fields.error ?? '')) ||
        fields.retryCount !== undefined;
      // Per-request protocol errors are retried by kafkajs itself; the operation's own failure,
      // if it comes, is reported by the caller. Keep them out of the error level.
      const perRequest = entry.namespace === 'Connection' && String(message).startsWith('Response ');
      if (entry.level <= KafkaLogLevel.ERROR && !retriable && !perRequest) logger.error(text, details);
      else if (entry.level <= KafkaLogLevel.ERROR && perRequest && !retriable) logger.warn(text, details);
      else if (entry.level <= KafkaLogLevel.WARN && !retriable) logger.warn(text, details);
      else logger.debug(text, details);
    },
  };
  if (settings.sasl) config.sasl = saslOptions(settings.sasl);
  return new KafkaClient(config);
}

function saslOptions(sasl: SaslSettings): SASLOptions | Mechanism {
  const missing = (names: Array<keyof SaslSettings>) => names.filter((name) => !sasl[name]);
  if (sasl.mechanism === 'oauthbearer') {
    const absent = missing(['tokenUrl', 'clientId', 'clientSecret']);
    if (absent.length > 0) throw missingSasl(sasl.mechanism, absent);
    const provider = new ClientCredentialsTokenProvider({
      tokenUrl: sasl.tokenUrl!,
      clientId: sasl.clientId!,
      clientSecret: sasl.clientSecret!,
      scope: sasl.scope,
    });
    return oauthBearerMechanism(provider, sasl.tokenUrl!);
  }
  const absent = missing(['username', 'password']);
  if (absent.length > 0) throw missingSasl(sasl.mechanism, absent);
  return { mechanism: sasl.mechanism, username: sasl.username!, password: sasl.password! } as SASLOptions;
}

function missingSasl(mechanism: string, names: string[]): ConfigurationError {
  return new ConfigurationError(
    `kafka.sasl: mechanism ${mechanism} needs ${names.map((name) => `kafka.sasl.${name}`).join(', ')}`,
  );
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`kafka.sslCaFile: cannot read ${path} (${errorMessage(error)})`);
  }
}
