import type { PeerEndpoint } from '@muxly/schemas';

const WEB_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/**
 * The peer a URL-valued config field names, with its scheme's port when the URL gives none
 * (`defaultPorts` by scheme, e.g. `{ 'postgres:': 5432 }`); undefined when the field holds no URL.
 */
export function urlEndpoint(
  value: unknown,
  field: string,
  defaultPorts: Readonly<Record<string, number>> = WEB_PORTS,
): PeerEndpoint | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const port = url.port ? Number(url.port) : defaultPorts[url.protocol];
  if (!url.hostname || !port) return undefined;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, field };
}
