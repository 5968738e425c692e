import { Type, type Static } from '@sinclair/typebox';

/** A relative path: no leading `/` or `\\`, no drive letter, no `..` segment, no NUL. */
export const RELATIVE_PATH_PATTERN = '^(?![/\\\\])(?![A-Za-z]:)(?!(?:.*[/\\\\])?\\.\\.(?:[/\\\\]|$))[^\\u0000]+$';

export const FileDestinationConfig = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      maxLength: 1024,
      // Relative, without a `..` segment and without a NUL: an editor names a file inside the
      // operator's folder and nothing else. The destination checks the real path again at open time.
      pattern: RELATIVE_PATH_PATTERN,
      description:
        'File to append to, relative to the operator\'s outbound.fileBaseDirectory (no leading /, no ".." segment); folders are created inside it; rotated files get a timestamp suffix beside it.',
    }),
    format: Type.Union([Type.Literal('jsonl'), Type.Literal('csv')], { default: 'jsonl' }),
    csvColumns: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'For csv: dotted paths into the event, e.g. "dimensions.env"; the header row uses them as names.',
      }),
    ),
    rotateBytes: Type.Integer({
      minimum: 0,
      default: 100 * 1024 * 1024,
      description: 'Rotate when the file reaches this size; 0 disables.',
    }),
    rotateIntervalSeconds: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'Rotate files older than this; 0 disables.',
    }),
    fsync: Type.Boolean({
      default: true,
      description: 'Flush to disk before the batch counts as delivered (durable before commit).',
    }),
  },
  { additionalProperties: false },
);
export type FileDestinationConfig = Static<typeof FileDestinationConfig>;
