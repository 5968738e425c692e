import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@muxly/common';
import type { ApiKeyEntry, ApiKeyVerifier } from './api-keys.ts';

// Keeps ingest's API keys in step with the control plane: every `refreshIntervalSeconds` it
// fetches the hashes of the active keys with scope metrics:write (authenticated by the service
// token) and swaps them into the verifier, next to the keys of ingest.apiKeys. When the control
// plane does not answer, the last fetched set stays in use, so ingest keeps accepting writes;
// with `cacheFile` that set also survives a restart of ingest during the outage.
// NOTE: a revoked key is therefore accepted for at most one interval plus one request timeout
// after the revocation (longer only while the control plane is unreachable: then the cached set,
// revoked keys included, stays in use until a fetch succeeds again).

export interface ApiKeySyncOptions {
  controlPlaneUrl: string;
  serviceToken: string;
  refreshIntervalSeconds: number;
  /** Where the last fetched hashes are kept between runs; unset, they live in memory only. */
  cacheFile?: string | undefined;
  verifier: ApiKeyVerifier;
  /** Keys from settings, always accepted. */
  staticKeys: readonly ApiKeyEntry[];
  logger: Logger;
}

export interface ApiKeySync {
  /** Resolves after the first attempt (successful or not). */
  ready: Promise<void>;
  stop(): void;
}

const isEntry = (key: unknown): key is ApiKeyEntry =>
  typeof (key as ApiKeyEntry | null)?.id === 'string' &&
  typeof (key as ApiKeyEntry).hash === 'string' &&
  /^sha256:[0-9a-f]{64}$/.test((key as ApiKeyEntry).hash);

/** Fetch timeout: at most 5 s, and never longer than the interval (a slow answer must not pile up fetches). */
const syncTimeoutMs = (refreshIntervalSeconds: number) => Math.min(5_000, refreshIntervalSeconds * 1000);

export function startApiKeySync(options: ApiKeySyncOptions): ApiKeySync {
  const url = `${options.controlPlaneUrl.replace(/\/+$/, '')}/api/v1/internal/api-keys`;
  const timeoutMs = syncTimeoutMs(options.refreshIntervalSeconds);
  let failing = false;
  let stopped = false;
  let cached = '';

  const apply = (keys: ApiKeyEntry[]) => options.verifier.replace([...options.staticKeys, ...keys]);

  const fromCache = readCache(options);
  if (fromCache) {
    apply(fromCache);
    cached = JSON.stringify(fromCache);
  }

  const refresh = async () => {
    try {
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${options.serviceToken}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`the control plane answered ${response.status}`);
      const body = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys)) throw new Error('the answer has no keys list');
      const fetched = body.keys.filter(isEntry).map((key) => ({ id: key.id, hash: key.hash }));
      if (stopped) return;
      apply(fetched);
      if (failing) options.logger.info('API keys fetched from the control plane again', { keys: fetched.length });
      failing = false;
      const serialized = JSON.stringify(fetched);
      if (options.cacheFile && serialized !== cached) {
        writeCache(options.cacheFile, fetched, options.logger);
        cached = serialized;
      }
    } catch (error) {
      if (!failing)
        options.logger.warn('cannot fetch API keys from the control plane; the last known keys stay in use', {
          url,
          error: (error as Error).message,
        });
      failing = true;
    }
  };

  const ready = refresh();
  const timer = setInterval(() => void refresh(), options.refreshIntervalSeconds * 1000);
  timer.unref();
  return {
    ready,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

function readCache(options: ApiKeySyncOptions): ApiKeyEntry[] | null {
  if (!options.cacheFile) return null;
  let text: string;
  try {
    text = readFileSync(options.cacheFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      options.logger.warn('cannot read the API key cache', {
        file: options.cacheFile,
        error: (error as Error).message,
      });
    return null;
  }
  try {
    const keys = (JSON.parse(text) as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new Error('no keys list');
    const entries = keys.filter(isEntry);
    options.logger.info('API keys loaded from the cache until the control plane answers', {
      file: options.cacheFile,
      keys: entries.length,
    });
    return entries;
  } catch (error) {
    options.logger.warn('the API key cache is unreadable; ignoring it', {
      file: options.cacheFile,
      error: (error as Error).message,
    });
    return null;
  }
}

function writeCache(file: string, keys: ApiKeyEntry[], logger: Logger): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    // Write then rename: a crash mid-write never leaves a truncated cache behind.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ savedAt: new Date().toISOString(), keys }), { mode: 0o600 });
    renameSync(temporary, file);
  } catch (error) {
    logger.warn('cannot write the API key cache', { file, error: (error as Error).message });
  }
}
