import { Type, type Static } from '@sinclair/typebox';

export const S3DestinationConfig = Type.Object(
  {
    bucket: Type.String({ minLength: 3, maxLength: 63 }),
    prefix: Type.String({
      default: 'muxly',
      pattern: '^[^/].*[^/]$|^$',
      description: 'Key prefix, without leading or trailing slash.',
    }),
    region: Type.String({ minLength: 1, default: 'us-east-1' }),
    endpoint: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description: 'Any S3-compatible endpoint (MinIO, S3Mock, R2…); AWS when absent.',
      }),
    ),
    forcePathStyle: Type.Boolean({
      default: false,
      description: 'Address buckets as <endpoint>/<bucket> (most S3-compatible servers need it).',
    }),
    accessKeyId: Type.Optional(Type.String({ minLength: 1 })),
    secretAccessKey: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'A credential: stored encrypted. Without keys, the AWS default credential chain applies.',
      }),
    ),
    compressionLevel: Type.Integer({ minimum: 1, maximum: 9, default: 6 }),
    requestTimeoutMs: Type.Integer({ minimum: 1000, default: 60_000 }),
  },
  { additionalProperties: false },
);
export type S3DestinationConfig = Static<typeof S3DestinationConfig>;
