import { Type, type Static } from '@sinclair/typebox';

export const WebhookDestinationConfig = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
    headers: Type.Record(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), Type.String({ maxLength: 4096 }), {
      default: {},
      description:
        "Extra request headers (e.g. Authorization). The webhook-* and content-type headers are always Muxly's.",
    }),
    secret: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          'Signing key (a credential): "whsec_<base64>" as Standard Webhooks prints it, or any string of 16+ characters used as UTF-8 bytes.',
      }),
    ),
    batchSize: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 1,
      description:
        '1: one request per event, its body the event. More: the body is a JSON array of up to this many events.',
    }),
    // NOTE: no allow-list here: which internal addresses a webhook may reach is the operator's
    // outbound.allowAddresses, which nothing an editor writes can widen.
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  },
  { additionalProperties: false },
);
export type WebhookDestinationConfig = Static<typeof WebhookDestinationConfig>;
