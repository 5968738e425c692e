import { setTimeout as delay } from 'node:timers/promises';
import {
  ConfigurationError,
  errorMessage,
  InvalidEventError,
  noTracing,
  PermanentError,
  type HttpClient,
  type KafkaProducer,
  type Logger,
  type SecretKeyring,
  type TopicNames,
  type Tracing,
} from '@muxly/common';
import type { CancelCommand, JobCounts, JobProgress, JobResult, RunCommand } from '@muxly/schemas';
import { createConnectorContext, runSync, SyncFailedError, type ConnectorRegistry } from '../connectors/index.ts';
import { RawSink } from './raw.sink.ts';

// Runs the syncs the control plane asks for, one AbortController each, and reports them on
// `<prefix>job-results`: started, progress (records so far, pages, cursor), then exactly one of
// succeeded / failed / cancelled (docs/scheduling.md).

export interface JobRunnerOptions {
  registry: ConnectorRegistry;
  keyring: SecretKeyring;
  producer: KafkaProducer;
  topics: Pick<TopicNames, 'raw' | 'jobResults'>;
  maxConcurrentSyncs: number;
  /** The guarded outbound client (address allow-list, timeout) shared by every sync. */
  http: HttpClient;
  recordsPerMessage: number;
  progressIntervalMs: number;
  logger: Logger;
  /** Each run is a trace of its own (its records carry it through the pipeline). */
  tracing?: Tracing;
}

type StopReason = CancelCommand['reason'] | 'shutdown';

/** Remembers the last `size` keys (ids of commands already handled). */
class RecentSet<T> {
  readonly #items = new Map<string, T>();
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  add(key: string, value: T): void {
    this.#items.set(key, value);
    if (this.#items.size > this.#size) this.#items.delete(this.#items.keys().next().value as string);
  }
  get(key: string): T | undefined {
    return this.#items.get(key);
  }
  has(key: string): boolean {
    return this.#items.has(key);
  }
}

export class JobRunner {
  readonly #options: JobRunnerOptions;
  readonly #log: Logger;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  readonly #started = new RecentSet<true>(10_000);
  /** Cancels that arrived before (or without) their run. */
  readonly #cancelled = new RecentSet<StopReason>(10_000);

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  get active(): number {
    return this.#running.size;
  }

  /** Waits until fewer than maxConcurrentSyncs run; false when `keepWaiting` turned false first. */
  async waitForSlot(keepWaiting: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    while (this.#running.size >= this.#options.maxConcurrentSyncs) {
      if (!keepWaiting()) return false;
      await Promise.race([...this.#running.values()].map((run) => run.done).concat(delay(1_000)));
      await heartbeat();
    }
    return true;
  }

  /** Starts a run in the background; ignores repeats of a command already started and expired ones. */
  start(command: RunCommand): void {
    const { executionId } = command;
    if (this.#started.has(executionId)) return void this.#log.debug('run command repeated; ignored', { executionId });
    this.#started.add(executionId, true);
    if (this.#cancelled.has(executionId))
      return void this.#log.info('run command was cancelled before it started', { executionId });
    if (Date.parse(command.deadline) <= Date.now()) {
      // The control plane already marked it timed out (and may have queued a retry).
      return void this.#log.warn('run command arrived after its deadline; not run', {
        executionId,
        deadline: command.deadline,
      });
    }
    const controller = new AbortController();
    const done = this.#run(command, controller).finally(() => this.#running.delete(executionId));
    this.#running.set(executionId, { controller, done });
  }

  cancel(command: CancelCommand): void {
    const run = this.#running.get(command.executionId);
    if (run) {
      this.#log.info('stopping sync', { executionId: command.executionId, reason: command.reason });
      run.controller.abort(command.reason);
    } else {
      this.#cancelled.add(command.executionId, command.reason);
    }
  }

  /** Aborts every running sync (each reports a retryable failure) and waits for them to settle. */
  async stop(): Promise<void> {
    for (const run of this.#running.values()) run.controller.abort('shutdown' satisfies StopReason);
    await Promise.allSettled([...this.#running.values()].map((run) => run.done));
  }

  async #run(command: RunCommand, controller: AbortController): Promise<void> {
    const { executionId, connector: target } = command;
    // A sync has no caller to continue a trace from: each run starts its own.
    const span = (this.#options.tracing ?? noTracing).startSpan(`sync ${target.type}`, {
      attributes: {
        'muxly.connector.id': target.id,
        'muxly.connector.type': target.type,
        'muxly.job.id': command.jobId,
        'muxly.execution.id': executionId,
      },
    });
    const log = this.#log.child({
      executionId,
      jobId: command.jobId,
      connectorId: target.id,
      ...(span.traceId ? { trace_id: span.traceId } : {}),
    });
    let failure: unknown;
    const progress: JobProgress = { pages: 0, records: 0, cursor: command.cursor };
    const report = (type: JobResult['type'], extra: Partial<JobResult> = {}) =>
      this.#report(
        {
          resultVersion: 1,
          type,
          executionId,
          jobId: command.jobId,
          connectorId: target.id,
          attempt: command.attempt,
          at: new Date().toISOString(),
          progress: { ...progress },
          ...extra,
        },
        log,
      );
    // NOTE: ingest stops at the deadline on its own too, so a lost cancel command cannot leave a
    // sync running forever.
    const deadline = setTimeout(
      () => controller.abort('timed_out' satisfies StopReason),
      Math.max(0, Date.parse(command.deadline) - Date.now()),
    );
    let sink: RawSink | undefined;
    try {
      const connector = this.#options.registry.get(target.type);
      if (!connector)
        throw new ConfigurationError(
          `no connector of type "${target.type}" is installed in ingest (installed: ${this.#options.registry.types().join(', ')})`,
        );
      const credentials = target.credentials
        ? this.#options.keyring.decrypt(target.credentials as never, `connector/${target.id}`)
        : {};
      await report('started');
      sink = new RawSink({
        producer: this.#options.producer,
        topic: this.#options.topics.raw,
        connector: { id: target.id, type: connector.type },
        executionId,
        recordsPerMessage: this.#options.recordsPerMessage,
        traceparent: span.traceparent,
      });
      let lastProgressAt = 0;
      const result = await runSync({
        connector,
        config: target.config,
        credentials,
        cursor: command.cursor,
        sink,
        context: createConnectorContext({
          connectorId: target.id,
          log,
          signal: controller.signal,
          http: this.#options.http,
          // NOTE: the control plane owns credentials. A rotated refresh token travels back to it
          // encrypted, on the job-results topic, and is awaited: the sync goes on only once the
          // new token is on its way (the old one may already be dead). A failed publish fails the
          // sync (retryable); this process keeps using the new token meanwhile (toolkit/oauth.ts).
          saveCredentials: async (rotated) => {
            await this.#options.producer.send([
              {
                topic: this.#options.topics.jobResults,
                key: executionId,
                value: JSON.stringify({
                  resultVersion: 1,
                  type: 'progress',
                  executionId,
                  jobId: command.jobId,
                  connectorId: target.id,
                  attempt: command.attempt,
                  at: new Date().toISOString(),
                  progress: { ...progress },
                  credentials: this.#options.keyring.encrypt(rotated, `connector/${target.id}`),
                } satisfies JobResult),
              },
            ]);
          },
        }),
        onProgress: async (current) => {
          Object.assign(progress, current);
          if (Date.now() - lastProgressAt < this.#options.progressIntervalMs) return;
          lastProgressAt = Date.now();
          await report('progress');
        },
      });
      Object.assign(progress, { pages: result.pages, records: result.records, cursor: result.cursor });
      const counts: JobCounts = {
        recordsRead: result.records,
        recordsPublished: sink.published,
        pages: result.pages,
        streams: result.streams,
      };
      span.setAttributes({ 'muxly.records.published': sink.published });
      await report('succeeded', { counts });
    } catch (error) {
      failure = error;
      if (error instanceof SyncFailedError) Object.assign(progress, error.progress);
      const cause = error instanceof SyncFailedError ? error.cause : error;
      const counts: JobCounts = {
        recordsRead: progress.records,
        recordsPublished: sink?.published ?? 0,
        pages: progress.pages,
        streams: {},
      };
      const reason = controller.signal.aborted ? (controller.signal.reason as StopReason) : undefined;
      if (reason === 'cancelled') {
        await report('cancelled', {
          counts,
          error: { message: 'cancelled on request', errorClass: 'Cancelled', retryable: false },
        });
      } else if (reason === 'timed_out') {
        await report('timed_out', {
          counts,
          error: {
            message: "timed out: the sync ran past the job's timeoutSeconds and was stopped",
            errorClass: 'Timeout',
            retryable: true,
          },
        });
      } else if (reason === 'shutdown') {
        await report('failed', {
          counts,
          error: { message: 'ingest stopped during the sync', errorClass: 'Interrupted', retryable: true },
        });
      } else {
        const retryable = !(
          cause instanceof ConfigurationError ||
          cause instanceof PermanentError ||
          cause instanceof InvalidEventError
        );
        await report('failed', {
          counts,
          error: { message: errorMessage(cause), errorClass: cause instanceof Error ? cause.name : 'Error', retryable },
        });
      }
    } finally {
      clearTimeout(deadline);
      span.end(failure);
    }
  }

  async #report(result: JobResult, log: Logger): Promise<void> {
    try {
      await this.#options.producer.send([
        { topic: this.#options.topics.jobResults, key: result.executionId, value: JSON.stringify(result) },
      ]);
    } catch (error) {
      // NOTE: a lost final result leaves the execution running until its deadline, when the
      // control plane marks it timed out (and retries per the job); nothing is recorded falsely.
      log.error('could not publish the job result', { type: result.type, error: errorMessage(error) });
    }
  }
}
