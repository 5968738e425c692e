import type { Logger } from '@muxly/common';
import type { ApiKeyEntry, ApiKeyVerifier } from './api-keys.ts';

// Keeps ingest's API keys in step with the control plane: every `refreshIntervalSeconds` it
// fetches the hashes of the active keys with scope metrics:write (authenticated by the service
// token) and swaps them into the verifier, next to the keys of ingest.apiKeys. When the control
// plane does not answer, the last fetched set stays in use, so ingest keeps accepting writes.
// NOTE: a revoked key is therefore accepted for at most one interval plus one request timeout
// after the revocation (longer only while the control plane is unreachable).

export interface ApiKeySyncOptions {
  controlPlaneUrl: string;
  serviceToken: string;
  refreshIntervalSeconds: number;
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

export function startApiKeySync(options: ApiKeySyncOptions): ApiKeySync {
  const url = `${options.controlPlaneUrl.replace(/\/+$/, '')}/api/v1/internal/api-keys`;
  const timeoutMs = Math.min(5_000, options.refreshIntervalSeconds * 1000);
  let failing = false;
  let stopped = false;

  const refresh = async () => {
    try {
      const response = await fetch(url, { headers: { authorization: `Bearer ${options.serviceToken}` }, signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`the control plane answered ${response.status}`);
      const body = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys)) throw new Error('the answer has no keys list');
      const fetched = body.keys.filter((key): key is ApiKeyEntry => typeof key?.id === 'string' && typeof key?.hash === 'string' && /^sha256:[0-9a-f]{64}$/.test(key.hash));
      if (stopped) return;
      options.verifier.replace([...options.staticKeys, ...fetched]);
      if (failing) options.logger.info('API keys fetched from the control plane again', { keys: fetched.length });
      failing = false;
    } catch (error) {
      if (!failing) options.logger.warn('cannot fetch API keys from the control plane; the last known keys stay in use', { url, error: (error as Error).message });
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
