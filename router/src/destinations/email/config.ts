import { Type, type Static } from '@sinclair/typebox';

const Address = Type.String({
  minLength: 3,
  maxLength: 320,
  pattern: '^[^\\s@<>]+@[^\\s@<>]+$|^[^<>]*<[^\\s@<>]+@[^\\s@<>]+>$',
  description: 'a@b.example or "Name <a@b.example>"',
});

export const EmailDestinationConfig = Type.Object(
  {
    smtp: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 1, maximum: 65_535, default: 587 }),
        secure: Type.Boolean({
          default: false,
          description: 'TLS from the first byte (port 465); otherwise STARTTLS when the server offers it.',
        }),
        requireTLS: Type.Boolean({ default: false, description: 'Refuse to send unless STARTTLS succeeds.' }),
        user: Type.Optional(Type.String({ minLength: 1 })),
        password: Type.Optional(Type.String({ minLength: 1, description: 'A credential: stored encrypted.' })),
        timeoutMs: Type.Integer({ minimum: 1000, maximum: 300_000, default: 30_000 }),
      },
      { additionalProperties: false },
    ),
    from: Address,
    to: Type.Array(Address, { minItems: 1, maxItems: 50 }),
    subject: Type.String({
      minLength: 1,
      maxLength: 998,
      description: 'Template, e.g. "Signup from {{ $.dimensions.country }}".',
    }),
    text: Type.String({ minLength: 1, maxLength: 100_000, description: 'Plain-text body template.' }),
    digest: Type.Optional(
      Type.Object(
        {
          subject: Type.String({
            minLength: 1,
            maxLength: 998,
            default: '{{ $.count }} events from Muxly',
            description: 'Template over { count, first, last } (the first and last events of the digest).',
          }),
          separator: Type.String({ default: '\n\n---\n\n' }),
        },
        {
          additionalProperties: false,
          description:
            "Send one email per delivered batch, its body the events' texts joined, instead of one per event.",
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type EmailDestinationConfig = Static<typeof EmailDestinationConfig>;
