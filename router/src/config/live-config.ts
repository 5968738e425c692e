import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import {
  BatchConsumer,
  createKafka,
  errorMessage,
  SecretKeyring,
  topicNames,
  type Logger,
  type MuxlySettings,
} from '@muxly/common';
import type { PipelineDefinition } from '../pipeline/pipeline.ts';
import { PipelineState } from './pipeline.state.ts';

export interface LiveConfigOptions {
  kafka: Kafka;
  /** The compacted config topic (`<prefix>config`). */
  topic: string;
  keyring: SecretKeyring;
  /** The settings file's pipeline: the starting point, overridden by id by the topic. */
  base: PipelineDefinition;
  logger: Logger;
  /** Applies a new pipeline (RouterService.apply); a rejection is logged and the old one stays. */
  onChange(pipeline: PipelineDefinition): Promise<void>;
  /** Changes closer together than this are applied once. Default 250 ms. */
  debounceMs?: number;
  /** Longest start() waits to catch up with the topic before going on with what it has. Default 30 s. */
  catchUpTimeoutMs?: number;
}

/**
 * Follows the live configuration topic and applies the router's part of it (destinations and
 * rules) without a restart.
 *
 * NOTE: every router instance must see every record, so each instance reads the whole topic from
 * the beginning in a consumer group of its own and never commits (the topic is compacted: its
 * size is the number of objects, not of changes). Sharing a group would split the configuration
 * between instances.
 */
export class LiveConfig {
  readonly #options: LiveConfigOptions;
  readonly #state: PipelineState;
  readonly #consumer: BatchConsumer;
  #timer: NodeJS.Timeout | undefined;
  #applying: Promise<void> = Promise.resolve();
  #caughtUp = false;
  #stopped = false;

  constructor(options: LiveConfigOptions) {
    this.#options = options;
    this.#state = new PipelineState({ base: options.base, keyring: options.keyring, logger: options.logger });
    this.#consumer = new BatchConsumer(options.kafka, {
      groupId: `muxly-router-config.${hostname()}.${process.pid}.${randomUUID().slice(0, 8)}`,
      topics: [options.topic],
      fromBeginning: true,
      commitMode: 'handler',
      logger: options.logger,
    });
  }

  /** Starts following; resolves after the records present at start were applied (once). */
  async start(): Promise<void> {
    const admin = this.#options.kafka.admin();
    await admin.connect();
    let ends: Map<number, bigint>;
    try {
      // Checked first: fetching offsets of a missing topic retries for seconds before failing.
      if (!(await admin.listTopics()).includes(this.#options.topic)) throw new Error('the topic does not exist');
      const offsets = await admin.fetchTopicOffsets(this.#options.topic);
      ends = new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)]));
    } catch (error) {
      // Without the topic (topics.create=false and no control plane yet) the settings file's
      // pipeline runs; say loudly that live changes will not arrive.
      this.#options.logger.warn(
        'live config: the config topic cannot be read; running the settings file pipeline without live reload',
        {
          topic: this.#options.topic,
          error: errorMessage(error),
        },
      );
      this.#stopped = true;
      return;
    } finally {
      await admin.disconnect();
    }
    const positions = new Map<number, bigint>();
    const isCaughtUp = () =>
      [...ends].every(([partition, end]) => end === 0n || (positions.get(partition) ?? -1n) + 1n >= end);

    let markCaughtUp!: () => void;
    const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
    void this.#consumer
      .start(async (messages, context) => {
        let changed = false;
        for (const message of messages) {
          const key = message.key?.toString('utf8');
          if (key)
            changed =
              this.#state.apply({ key, value: message.value === null ? null : message.value.toString('utf8') }) ||
              changed;
          positions.set(context.partition, BigInt(message.offset));
        }
        if (!this.#caughtUp) {
          if (isCaughtUp()) markCaughtUp();
        } else if (changed) {
          this.#schedule();
        }
      })
      .catch((error: unknown) =>
        this.#options.logger.error('live config consumer stopped', { error: errorMessage(error) }),
      );

    if (isCaughtUp()) markCaughtUp();
    const timeoutMs = this.#options.catchUpTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      caughtUp.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.#options.logger.warn('live config: not caught up with the config topic in time; applying what was read', {
        topic: this.#options.topic,
        timeoutMs,
      });
    this.#caughtUp = true;
    await this.#apply();
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#apply(), this.#options.debounceMs ?? 250);
  }

  /** Applies the current snapshot; serialized, so reloads never overlap. */
  #apply(): Promise<void> {
    const next = this.#applying.then(async () => {
      if (this.#stopped) return;
      const pipeline = this.#state.snapshot();
      try {
        await this.#options.onChange(pipeline);
        this.#options.logger.info('live config applied', {
          destinations: pipeline.destinations.length,
          rules: pipeline.rules.length,
        });
      } catch (error) {
        this.#options.logger.error('live config refused; the running pipeline stays', { error: errorMessage(error) });
      }
    });
    this.#applying = next;
    return next;
  }

  async stop(): Promise<void> {
    const started = !this.#stopped || this.#consumer.running;
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (started) await this.#consumer.stop();
    await this.#applying;
  }
}

/**
 * Starts following the config topic named by the settings, applying changes through `apply`
 * (RouterService.apply). The settings file's `pipeline` is the base the topic overrides by id.
 */
export async function followLiveConfig(
  settings: MuxlySettings,
  apply: (pipeline: PipelineDefinition) => Promise<void>,
  logger: Logger,
): Promise<LiveConfig> {
  const kafka = createKafka({ ...settings.kafka, clientId: `${settings.kafka.clientId}-router-config` }, logger);
  const keyring = new SecretKeyring(settings.controlPlane.secrets);
  if (keyring.usesDevelopmentKey)
    logger.warn(
      'destination credentials are decrypted with the public development key: configure controlPlane.secrets.keys for production',
    );
  const live = new LiveConfig({
    kafka,
    topic: topicNames(settings.topics.prefix).config,
    keyring,
    base: settings.pipeline,
    logger: logger.child({ component: 'live-config' }),
    onChange: apply,
  });
  await live.start();
  return live;
}
