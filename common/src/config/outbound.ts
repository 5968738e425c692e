import { resolve } from 'node:path';
import type { MuxlySettings } from '@muxly/schemas';

// The operator's limits on what destinations and connectors may touch (the `outbound` settings).
// One place computes the effective values, so the router and the control plane's connection test
// judge a configuration the same way.

/** Where the file destination writes when `outbound.fileBaseDirectory` is not set, per mode. */
export const DEFAULT_FILE_BASE_DIRECTORY = { local: '.local/out', production: '/var/lib/muxly/files' } as const;

/** The file destination's base folder, absolute (a relative setting is read from the working directory). */
export function fileBaseDirectory(settings: Pick<MuxlySettings, 'mode' | 'outbound'>): string {
  return resolve(settings.outbound.fileBaseDirectory ?? DEFAULT_FILE_BASE_DIRECTORY[settings.mode]);
}

/** What local mode adds to `outbound.allowAddresses`: the local stack (databases, S3, receivers) listens on loopback. */
export const LOCAL_MODE_ALLOWED_ADDRESSES: readonly string[] = ['127.0.0.0/8', '::1'];

/** The effective outbound settings, as the router, ingest and the control plane's connection tests apply them. */
export interface OutboundPolicy {
  /** Absolute folder every file destination path is relative to. */
  fileBaseDirectory: string;
  /**
   * The internal addresses any outbound connection may reach (the address guard's allow-list):
   * `outbound.allowAddresses`, plus loopback in local mode.
   */
  allowAddresses: readonly string[];
}

export function outboundPolicy(settings: Pick<MuxlySettings, 'mode' | 'outbound'>): OutboundPolicy {
  const local = settings.mode === 'local' ? LOCAL_MODE_ALLOWED_ADDRESSES : [];
  return {
    fileBaseDirectory: fileBaseDirectory(settings),
    allowAddresses: [...new Set([...settings.outbound.allowAddresses, ...local])],
  };
}
