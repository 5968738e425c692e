import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook trigger signatures (docs/scheduling.md):
//   Muxly-Delivery-Id: <unique id of this delivery>      (replay protection)
//   Muxly-Timestamp:   <unix seconds when it was signed>  (tolerance window)
//   Muxly-Signature:   v1=<hex HMAC-SHA256 of "<delivery id>.<timestamp>.<raw body>">[,v1=<hex>…]
// NOTE: the delivery id is signed too: replay protection keys on it, so an unsigned id would let a
// captured request be replayed under a fresh id within the tolerance window.
// A sender rotating its secret may send one v1 per secret; Muxly accepts the current secret and,
// for a grace period after a change, the previous one.

const HEADERS = {
  deliveryId: 'muxly-delivery-id',
  timestamp: 'muxly-timestamp',
  signature: 'muxly-signature',
} as const;

export type Verdict =
  { ok: true; deliveryId: string; timestamp: number } | { ok: false; status: 400 | 401; type: string; detail: string };

/** Also the answer for a path no trigger has: a caller cannot tell the two apart. */
export const BAD_SIGNATURE = {
  ok: false,
  status: 401,
  type: 'bad-signature',
  detail: 'the signature does not match a webhook trigger at this path',
} as const satisfies Verdict;

const DELIVERY_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
const SIGNATURE = /^v1=([0-9a-f]{64})$/;

/** The signature a sender computes: hex HMAC-SHA256 over `<delivery id>.<timestamp>.<raw body>`. */
export function signWebhook(
  secret: string,
  deliveryId: string,
  timestamp: number | string,
  body: Buffer | string,
): string {
  return createHmac('sha256', secret).update(`${deliveryId}.${timestamp}.`).update(body).digest('hex');
}

export interface VerifyInput {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Every secret accepted now (current first, then the previous one during its grace period). */
  secrets: readonly string[];
  nowSeconds: number;
  toleranceSeconds: number;
}

const header = (headers: VerifyInput['headers'], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** Checks the headers, the tolerance window and the signature; never says which secret matched. */
export function verifyWebhook(input: VerifyInput): Verdict {
  const deliveryId = header(input.headers, HEADERS.deliveryId)?.trim();
  const timestampText = header(input.headers, HEADERS.timestamp)?.trim();
  const signatureText = header(input.headers, HEADERS.signature);
  if (!deliveryId || !DELIVERY_ID.test(deliveryId)) {
    return {
      ok: false,
      status: 400,
      type: 'invalid-webhook',
      detail: `the ${HEADERS.deliveryId} header is missing or not 1-200 characters of [A-Za-z0-9_.:-]`,
    };
  }
  if (!timestampText || !/^\d{1,12}$/.test(timestampText)) {
    return {
      ok: false,
      status: 400,
      type: 'invalid-webhook',
      detail: `the ${HEADERS.timestamp} header is missing or not unix seconds`,
    };
  }
  const provided = (signatureText ?? '')
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((part) => SIGNATURE.exec(part)?.[1])
    .filter((hex): hex is string => hex !== undefined);
  if (provided.length === 0) {
    return {
      ok: false,
      status: 400,
      type: 'invalid-webhook',
      detail: `the ${HEADERS.signature} header is missing or has no v1=<64 hex characters> signature`,
    };
  }
  const timestamp = Number(timestampText);
  if (Math.abs(input.nowSeconds - timestamp) > input.toleranceSeconds) {
    return {
      ok: false,
      status: 401,
      type: 'stale-webhook',
      detail: `the signed timestamp is more than ${input.toleranceSeconds} seconds away from the server's clock`,
    };
  }
  // NOTE: every secret is compared with every signature, without stopping at the first match,
  // and each comparison is constant-time, so timing reveals neither which part matched nor how much.
  let matched = false;
  for (const secret of input.secrets) {
    const expected = Buffer.from(signWebhook(secret, deliveryId, timestampText, input.body), 'hex');
    for (const hex of provided) {
      if (timingSafeEqual(expected, Buffer.from(hex, 'hex'))) matched = true;
    }
  }
  if (!matched) return BAD_SIGNATURE;
  return { ok: true, deliveryId, timestamp };
}
