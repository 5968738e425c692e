import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { UNIT_NAMES } from './units.ts';

// JSON Schema of the rule language (docs/routing.md). The control plane validates saved rules
// with compileRule (which reports the exact place of a problem); these schemas document the shape
// in OpenAPI and the templates API. Both describe the same language: keep them together.

const Path = Type.String({ pattern: '^\\$', description: "JSONPath subset: $.a.b, $.a['x-y'], $.arr[0]." });
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const COMPARISON_OPERATORS = [
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'exists',
  'matches',
  'contains',
] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

const Comparison = Type.Union(
  [
    Type.Object(
      { path: Path, op: Type.Union([Type.Literal('eq'), Type.Literal('ne')]), value: Scalar },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        path: Path,
        op: Type.Union([Type.Literal('gt'), Type.Literal('gte'), Type.Literal('lt'), Type.Literal('lte')]),
        value: Type.Union([Type.Number(), Type.String()]),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { path: Path, op: Type.Literal('in'), value: Type.Array(Scalar, { maxItems: 10_000 }) },
      { additionalProperties: false },
    ),
    Type.Object(
      { path: Path, op: Type.Literal('exists'), value: Type.Optional(Type.Boolean({ default: true })) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        path: Path,
        op: Type.Literal('matches'),
        value: Type.String({ maxLength: 1000 }),
        flags: Type.Optional(Type.String({ pattern: '^[imsu]*$' })),
      },
      { additionalProperties: false },
    ),
    Type.Object({ path: Path, op: Type.Literal('contains'), value: Scalar }, { additionalProperties: false }),
  ],
  { description: 'Compares the value at `path` with `value`.' },
);

export const RuleCondition = Type.Recursive(
  (Self) =>
    Type.Union([
      Comparison,
      Type.Object({ all: Type.Array(Self) }, { additionalProperties: false }),
      Type.Object({ any: Type.Array(Self) }, { additionalProperties: false }),
      Type.Object({ not: Self }, { additionalProperties: false }),
    ]),
  { $id: 'RuleCondition', title: 'Routing rule condition' },
);
export type RuleCondition =
  | { path: string; op: ComparisonOperator; value?: unknown; flags?: string }
  | { all: RuleCondition[] }
  | { any: RuleCondition[] }
  | { not: RuleCondition };

const Unit = Type.Union(UNIT_NAMES.map((name) => Type.Literal(name)));
const transformation = <T extends Record<string, TSchema>>(type: string, properties: T, description: string) =>
  Type.Object({ type: Type.Literal(type), ...properties }, { additionalProperties: false, description });

export const RuleTransformation = Type.Union(
  [
    transformation('rename', { from: Path, to: Path }, 'Moves a field; a missing field is left alone.'),
    transformation('copy', { from: Path, to: Path }, 'Copies a field (deeply); a missing field is left alone.'),
    transformation('set', { path: Path, value: Type.Unknown() }, 'Sets a field to a constant JSON value.'),
    transformation('remove', { path: Path }, 'Removes a field; a missing field is left alone.'),
    transformation(
      'map',
      { path: Path, mapping: Type.Record(Type.String(), Type.Unknown()), default: Type.Optional(Type.Unknown()) },
      'Replaces a value by its entry in `mapping` (keys are the value as a string); otherwise `default` when given.',
    ),
    transformation(
      'template',
      { path: Path, template: Type.String({ maxLength: 10_000 }) },
      'Sets a field to a string template, e.g. "{{ $.name }} in {{ $.dimensions.env }}".',
    ),
    transformation(
      'convert',
      { path: Path, from: Unit, to: Unit, unitPath: Type.Optional(Path) },
      'Converts a number between units of one dimension; with `unitPath`, only when that field equals `from`, and it is set to `to`.',
    ),
    transformation(
      'flatten',
      { path: Path, separator: Type.Optional(Type.String({ minLength: 1, default: '.' })) },
      'Turns nested objects at `path` into one level with joined keys.',
    ),
    transformation(
      'unflatten',
      { path: Path, separator: Type.Optional(Type.String({ minLength: 1, default: '.' })) },
      'The reverse of flatten.',
    ),
    transformation('keep', { paths: Type.Array(Path, { minItems: 1 }) }, 'Keeps only the listed fields.'),
  ],
  { $id: 'RuleTransformation', title: 'Routing rule transformation' },
);
export type RuleTransformation = Static<typeof RuleTransformation>;
export const TRANSFORMATION_TYPES = [
  'rename',
  'copy',
  'set',
  'remove',
  'map',
  'template',
  'convert',
  'flatten',
  'unflatten',
  'keep',
] as const;

/** The part of a routing rule that decides and reshapes: what compileRule reads. */
export const RuleLogic = Type.Object({
  condition: Type.Optional(RuleCondition),
  transformations: Type.Optional(Type.Array(RuleTransformation, { maxItems: 100 })),
});
export interface RuleDefinition {
  /** Absent: the rule matches every event. */
  condition?: RuleCondition | undefined;
  transformations?: RuleTransformation[] | undefined;
}
