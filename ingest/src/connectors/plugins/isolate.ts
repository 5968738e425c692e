import { ConnectorRecord } from '@muxly/schemas';
import { InvalidEventError, compileValidator, errorMessage } from '@muxly/common';
import type { ConnectorPage, ConnectorPlugin } from '../connector.ts';

// Wraps a plugin so its mistakes stay its own: a check that throws becomes a failed step, a read
// that throws (at call or mid-iteration) ends that sync with an error naming the plugin, and a
// page that breaks the contract is refused before it reaches Kafka.

const recordProblems = compileValidator(ConnectorRecord);

function checkPage(type: string, page: unknown): ConnectorPage {
  const candidate = page as Partial<ConnectorPage> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.stream !== 'string' ||
    !Array.isArray(candidate.records)
  ) {
    throw new InvalidEventError(`plugin ${type} yielded a page without { stream, records, cursor }`);
  }
  if (candidate.cursor !== null && (typeof candidate.cursor !== 'object' || Array.isArray(candidate.cursor))) {
    throw new InvalidEventError(`plugin ${type} yielded a cursor that is not an object or null`);
  }
  candidate.records.forEach((record, index) => {
    const problems = recordProblems(record);
    if (problems.length > 0)
      throw new InvalidEventError(`plugin ${type} yielded an invalid record at index ${index}: ${problems.join('; ')}`);
  });
  return candidate as ConnectorPage;
}

export function isolatePlugin(plugin: ConnectorPlugin): ConnectorPlugin {
  return {
    type: plugin.type,
    description: plugin.description,
    configSchema: plugin.configSchema,
    ...(plugin.credentialsSchema ? { credentialsSchema: plugin.credentialsSchema } : {}),
    async check(config, credentials, context) {
      try {
        return await plugin.check(config, credentials, context);
      } catch (error) {
        return { ok: false, steps: [{ name: `plugin ${plugin.type} check`, ok: false, message: errorMessage(error) }] };
      }
    },
    async *read(config, credentials, cursor, context) {
      let pages: AsyncIterable<ConnectorPage>;
      try {
        pages = plugin.read(config, credentials, cursor, context);
      } catch (error) {
        throw new Error(`plugin ${plugin.type} read failed: ${errorMessage(error)}`, { cause: error });
      }
      if (
        pages === null ||
        typeof pages !== 'object' ||
        typeof (pages as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function'
      ) {
        throw new Error(`plugin ${plugin.type} read did not return an async iterable`);
      }
      const iterator = pages[Symbol.asyncIterator]();
      for (;;) {
        let step: IteratorResult<ConnectorPage>;
        try {
          step = await iterator.next();
        } catch (error) {
          // Keep the class (RetryableError, ConfigurationError) so the scheduler reacts right.
          if (error instanceof Error) {
            error.message = `plugin ${plugin.type}: ${error.message}`;
            throw error;
          }
          throw new Error(`plugin ${plugin.type} read failed: ${String(error)}`);
        }
        if (step.done) return;
        yield checkPage(plugin.type, step.value);
      }
    },
  };
}
