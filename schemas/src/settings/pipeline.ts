import { Type } from '@sinclair/typebox';

// The pipeline objects a declarative file may seed (docs/control-plane-api.md "Declarative seed"). The control plane owns
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
    condition: Type.Optional(
      Type.Unknown({ description: 'A condition (see docs/routing.md); absent matches every event.' }),
    ),
    transformations: Type.Array(Type.Unknown(), { default: [] }),
    destinationIds: Type.Array(Type.String(), { minItems: 1 }),
    stopOnMatch: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export const ROUTE_FAILURE_POLICIES = ['dead-letter', 'continue', 'stop'] as const;

export const RouteDefinition = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String()),
    connectorId: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'The source connector whose events this route covers; null: events sent to the ingest API.',
    }),
    ruleIds: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'The rules that apply to this source (see docs/routing.md, "Routes").',
    }),
    enabled: Type.Boolean({ default: true }),
    errorHandling: Type.Object(
      {
        onFailure: Type.Union(
          ROUTE_FAILURE_POLICIES.map((policy) => Type.Literal(policy)),
          {
            default: 'dead-letter',
            description:
              'An event these rules routed that cannot be delivered: dead-letter it, skip it (continue, counted), or stop the destination at it until it goes through.',
          },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export const PipelineSettings = Type.Object(
  {
    destinations: Type.Array(DestinationDefinition, { default: [] }),
    rules: Type.Array(RoutingRuleDefinition, { default: [] }),
    routes: Type.Optional(
      Type.Array(RouteDefinition, {
        default: [],
        description:
          'Ties sources to rules, with their error handling; without routes every rule applies to every source.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);
