import type { Logger } from '../observability/logger.ts';
import { ConfigurationError, errorMessage } from '../errors.ts';

/** What a running service gives back: how to stop it, in the order it must stop. */
export interface RunningService {
  /** Stop accepting work, finish in-flight batches, commit, flush producers, close pools. */
  stop(): Promise<void>;
}

export interface ServiceDefinition {
  name: string;
  logger: Logger;
  start(): Promise<RunningService>;
  /** Longest a graceful stop may take before the process exits anyway. */
  shutdownTimeoutMs?: number;
}

/**
 * Runs a service as a process: starts it, stops it once on SIGTERM or SIGINT, and exits with a
 * status that tells a supervisor what happened (0 clean stop, 1 failure, 78 bad configuration).
 */
export function runService(definition: ServiceDefinition): void {
  const { logger, name } = definition;
  let running: RunningService | undefined;
  let stopping = false;

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    const timeout = setTimeout(() => {
      logger.error('graceful stop took too long; exiting', { timeoutMs: definition.shutdownTimeoutMs ?? 30_000 });
      process.exit(1);
    }, definition.shutdownTimeoutMs ?? 30_000);
    timeout.unref();
    try {
      await running?.stop();
      logger.info('stopped');
      process.exitCode = 0;
    } catch (error) {
      logger.error('error while stopping', { error: errorMessage(error) });
      process.exitCode = 1;
    }
    clearTimeout(timeout);
    // Anything still holding the loop open (a stray socket) must not keep a stopped service alive.
    setTimeout(() => process.exit(), 200).unref();
  };

  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // Node prints process warnings on stderr as plain text; keep the log JSON. kafkajs arms timers
  // with negative delays on Node 24 (TimeoutNegativeWarning): harmless, Node clamps them to 1 ms.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') logger.debug('node warning', { warning: warning.message });
    else logger.warn('node warning', { name: warning.name, warning: warning.message });
  });
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection', { error: errorMessage(reason) });
  });

  definition
    .start()
    .then((service) => {
      running = service;
      logger.info('started', { service: name });
      if (stopping) void service.stop();
    })
    .catch((error: unknown) => {
      if (error instanceof ConfigurationError) {
        // Printed plainly on stderr too: this is what a person starting the service must read.
        process.stderr.write(`${name}: ${error.message}\n`);
        logger.error('invalid configuration', { problems: error.problems, error: error.message });
        process.exit(78);
      }
      logger.error('failed to start', { error: errorMessage(error) });
      process.exit(1);
    });
}
