import { Type } from '@sinclair/typebox';

// The pipeline objects a declarative file may seed (DESIGN.md section 5). The control plane owns
// them at run time; without a control plane the router applies these directly.

export const DestinationDefinition = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' }),
    name: Type.Optional(Type.String()),
    type: Type.String({ minLength: 1 }),
    enabled: Type.Boolean({ default: true }),
    config: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  },
  { additionalProperties: false },
);

export const RoutingRuleDefinition = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String()),
    priority: Type.Integer({ default: 100 }),
    enabled: Type.Boolean({ default: true }),
    condition: Type.Optional(Type.Unknown({ description: 'A condition (see docs/routing.md); absent matches every event.' })),
    transformations: Type.Array(Type.Unknown(), { default: [] }),
    destinationIds: Type.Array(Type.String(), { minItems: 1 }),
    stopOnMatch: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export const PipelineSettings = Type.Object(
  {
    destinations: Type.Array(DestinationDefinition, { default: [] }),
    rules: Type.Array(RoutingRuleDefinition, { default: [] }),
  },
  { additionalProperties: false, default: {} },
);
