import { defineEntity, p, type EntityName, type InferEntity } from '@mikro-orm/core';
import type { EncryptedValue } from '@muxly/common';

// MikroORM entity schemas (no decorators: Node runs this file by type stripping). The tables are
// created by the SQL migrations in migrations/; these schemas map them and must stay in step.
// References are plain id columns: the foreign keys live in the database, and the resources
// layer checks them first so a user gets a clear answer instead of a constraint violation.

type Json = Record<string, unknown>;

const timestamps = {
  createdAt: p.datetime().onCreate(() => new Date()),
  updatedAt: p
    .datetime()
    .onCreate(() => new Date())
    .onUpdate(() => new Date()),
};

export const ConnectorEntity = defineEntity({
  name: 'Connector',
  tableName: 'connectors',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    type: p.string(),
    enabled: p.boolean(),
    config: p.json<Json>(),
    credentials: p.json<EncryptedValue>().nullable(),
    state: p.json<Json>().nullable(),
    version: p.integer().version(),
    ...timestamps,
  },
});
export type Connector = InferEntity<typeof ConnectorEntity>;

export const DestinationEntity = defineEntity({
  name: 'Destination',
  tableName: 'destinations',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    type: p.string(),
    enabled: p.boolean(),
    config: p.json<Json>(),
    credentials: p.json<EncryptedValue>().nullable(),
    version: p.integer().version(),
    ...timestamps,
  },
});
export type Destination = InferEntity<typeof DestinationEntity>;

export const RoutingRuleEntity = defineEntity({
  name: 'RoutingRule',
  tableName: 'routing_rules',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    priority: p.integer(),
    enabled: p.boolean(),
    condition: p.json<unknown>().nullable(),
    stopOnMatch: p.boolean(),
    version: p.integer().version(),
    ...timestamps,
  },
});
export type RoutingRule = InferEntity<typeof RoutingRuleEntity>;

export const RuleTransformationEntity = defineEntity({
  name: 'RuleTransformation',
  tableName: 'rule_transformations',
  properties: {
    ruleId: p.string().primary(),
    position: p.integer().primary(),
    spec: p.json<unknown>(),
  },
});

export const RuleDestinationEntity = defineEntity({
  name: 'RuleDestination',
  tableName: 'rule_destinations',
  properties: {
    ruleId: p.string().primary(),
    destinationId: p.string().primary(),
    position: p.integer(),
  },
});

export const RouteEntity = defineEntity({
  name: 'Route',
  tableName: 'routes',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    connectorId: p.string().nullable(),
    enabled: p.boolean(),
    errorHandling: p.json<Json>(),
    version: p.integer().version(),
    ...timestamps,
  },
});
export type Route = InferEntity<typeof RouteEntity>;

export const RouteRuleEntity = defineEntity({
  name: 'RouteRule',
  tableName: 'route_rules',
  properties: {
    routeId: p.string().primary(),
    ruleId: p.string().primary(),
    position: p.integer(),
  },
});

export const SchedulerJobEntity = defineEntity({
  name: 'SchedulerJob',
  tableName: 'scheduler_jobs',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    connectorId: p.string(),
    action: p.string(),
    params: p.json<Json>(),
    schedule: p.string().nullable(),
    timezone: p.string(),
    enabled: p.boolean(),
    maxRetries: p.integer(),
    backoff: p.json<Json>(),
    timeoutSeconds: p.integer(),
    version: p.integer().version(),
    ...timestamps,
  },
});
export type SchedulerJob = InferEntity<typeof SchedulerJobEntity>;

export const JobExecutionEntity = defineEntity({
  name: 'JobExecution',
  tableName: 'job_executions',
  properties: {
    id: p.string().primary(),
    jobId: p.string(),
    status: p.string(),
    attempt: p.integer(),
    triggeredBy: p.string(),
    startedAt: p.datetime().nullable(),
    endedAt: p.datetime().nullable(),
    counts: p.json<Json>(),
    error: p.text().nullable(),
    progress: p.json<Json>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type JobExecution = InferEntity<typeof JobExecutionEntity>;

export const WebhookTriggerEntity = defineEntity({
  name: 'WebhookTrigger',
  tableName: 'webhook_triggers',
  properties: {
    id: p.string().primary(),
    jobId: p.string(),
    path: p.string(),
    secret: p.json<EncryptedValue>().nullable(),
    enabled: p.boolean(),
    version: p.integer().version(),
    ...timestamps,
  },
});
export type WebhookTrigger = InferEntity<typeof WebhookTriggerEntity>;

export const entities = [
  ConnectorEntity,
  DestinationEntity,
  RoutingRuleEntity,
  RuleTransformationEntity,
  RuleDestinationEntity,
  RouteEntity,
  RouteRuleEntity,
  SchedulerJobEntity,
  JobExecutionEntity,
  WebhookTriggerEntity,
];

/**
 * An entity name for code that works on several entity schemas at once (generic lookups).
 * NOTE: MikroORM's inferred schema types do not accept a union of schemas, hence the loose type.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LooseEntityName = EntityName<any>;
