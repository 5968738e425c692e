import type { MuxlySettings } from '@muxly/schemas';
import { isDevelopmentKey } from '../crypto/secrets.ts';
import { ConfigurationError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

// The deployment mode (`mode` in the settings). `local` is one developer's machine: the
// development secrets of config/local.yaml work and services bind to 127.0.0.1. Anywhere else,
// `production`: a service refuses to start while any secret published in this repository is
// configured, or while a key it needs is missing, and names the setting to fix.

export type MuxlyServiceName = 'ingest' | 'transformer' | 'router' | 'control-plane';

// NOTE: these values are public (config/local.yaml, the Kubernetes secrets example): anyone can
// sign in, write metrics or fetch key hashes with them, so they are refused outside local mode.
const PUBLISHED_SERVICE_TOKENS = ['local-dev-only-service-token-change-me', 'change-me-to-48-random-bytes-in-base64'];
const PUBLISHED_ADMIN_PASSWORDS = ['local-dev-only-admin-password'];
const PUBLISHED_INGEST_KEY_HASHES = ['sha256:4096d8a2c64bf0958353ce0ed892275eb25d25153f410e2eac281f82595f7fc4'];
const PUBLISHED_ENCRYPTION_KEYS = ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='];

/** Who needs which key: the control plane signs tokens; it, ingest and the router decrypt credentials. */
const NEEDS_ENCRYPTION_KEYS: readonly MuxlyServiceName[] = ['control-plane', 'ingest', 'router'];

/** Every reason the settings are not fit for production mode (empty in local mode). */
export function productionModeProblems(settings: MuxlySettings, service: MuxlyServiceName): string[] {
  if (settings.mode !== 'production') return [];
  const problems: string[] = [];
  const { auth, secrets } = settings.controlPlane;
  const regenerate = {
    token: '(openssl rand -base64 48)',
    key: '(openssl rand -base64 32)',
    signing: '(openssl genpkey -algorithm ed25519)',
  };

  // Published secrets are refused by every service: one settings document serves them all.
  if (auth.serviceToken !== undefined && PUBLISHED_SERVICE_TOKENS.includes(auth.serviceToken))
    problems.push(`controlPlane.auth.serviceToken is a published development value; set your own ${regenerate.token}`);
  if (auth.bootstrapAdmin && PUBLISHED_ADMIN_PASSWORDS.includes(auth.bootstrapAdmin.password))
    problems.push(
      'controlPlane.auth.bootstrapAdmin.password is the published development password; set your own or create the first admin with users:create-admin',
    );
  settings.ingest.apiKeys.forEach((entry, index) => {
    if (PUBLISHED_INGEST_KEY_HASHES.includes(entry.hash.toLowerCase()))
      problems.push(
        `ingest.apiKeys.${index}.hash is the published development ingest key (mxk_local_dev_only_change_me); remove it`,
      );
  });
  secrets.keys.forEach((entry, index) => {
    if (isDevelopmentKey(entry.key) || PUBLISHED_ENCRYPTION_KEYS.includes(entry.key.trim()))
      problems.push(
        `controlPlane.secrets.keys.${index}.key is a published development key; set your own ${regenerate.key}`,
      );
  });

  // The keys this service needs.
  if (service === 'control-plane' && !auth.signingKey)
    problems.push(`controlPlane.auth.signingKey is required in production mode ${regenerate.signing}`);
  if (NEEDS_ENCRYPTION_KEYS.includes(service) && secrets.keys.length === 0)
    problems.push(
      `controlPlane.secrets.keys is required in production mode (the public development key would be used) ${regenerate.key}`,
    );
  return problems;
}

/**
 * Stops the start in production mode while the settings are not fit for it (a configuration
 * error: exit status 78, every problem named); in local mode, says so once.
 */
export function enforceDeploymentMode(settings: MuxlySettings, service: MuxlyServiceName, logger: Logger): void {
  const problems = productionModeProblems(settings, service);
  if (problems.length > 0) throw new ConfigurationError(`${service} refuses to start in production mode`, problems);
  if (settings.mode === 'local')
    logger.info('local mode: development secrets are accepted; set mode: production beyond one machine', {
      mode: 'local',
    });
}
