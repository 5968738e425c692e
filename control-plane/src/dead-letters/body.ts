import { decodeWireFormat } from '@muxly/common';

// How a dead letter's body is shown. The body is the user's own data (destination secrets never
// enter the DLQ: the router writes the event, never the destination's config), but a field that
// looks like a credential is still masked, and so are credentials inside error messages (a URL's
// user:password, a token in a query string), because people paste what they see.

const SECRET_KEY = /pass(word|phrase)?|secret|token|authorization|api[-_]?key|credential|private[-_]?key/i;
const REDACTED = '[redacted]';

function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_KEY.test(key) && inner !== null && typeof inner !== 'object' ? REDACTED : redactValue(inner),
    ]),
  );
}

export function redactText(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, `$1${REDACTED}@`)
    .replace(/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`)
    .replace(/([?&;\s](?:[a-z_-]*(?:token|key|secret|password|signature|sig)[a-z_-]*)=)[^&\s;]+/gi, `$1${REDACTED}`);
}

export interface RenderedBody {
  /** "event" (a unified event), "json" (a raw envelope or an item of one) or "bytes". */
  encoding: 'event' | 'json' | 'bytes';
  value?: unknown;
  /** Base64 of the bytes when they are neither an event nor JSON. */
  base64?: string;
  sizeBytes: number;
}

export function renderBody(stage: string, body: Buffer): RenderedBody {
  const sizeBytes = body.length;
  if (stage === 'router') {
    try {
      return { encoding: 'event', value: redactValue(decodeWireFormat(body).value), sizeBytes };
    } catch {
      // not an encoded event: shown below as JSON or bytes
    }
  }
  try {
    return { encoding: 'json', value: redactValue(JSON.parse(body.toString('utf8'))), sizeBytes };
  } catch {
    return { encoding: 'bytes', base64: body.toString('base64'), sizeBytes };
  }
}
