import type { ServerResponse } from 'node:http';

/**
 * Headers every Muxly HTTP answer carries, whatever the service. `nosniff` stops a browser from
 * guessing a type other than the declared one (a JSON or YAML answer run as a script or page).
 */
export function setSecurityHeaders(response: ServerResponse): void {
  response.setHeader('X-Content-Type-Options', 'nosniff');
}
