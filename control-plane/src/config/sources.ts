import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ConnectorEntity,
  DestinationEntity,
  RouteEntity,
  RoutingRuleEntity,
  SchedulerJobEntity,
  WebhookTriggerEntity,
  type LooseEntityName,
} from '../db/entities.ts';
import { toConfigObject as jobObject } from '../resources/jobs.routes.ts';
import { loadRuleIds, toConfigObject as routeObject } from '../resources/routes.routes.ts';
import { loadRuleView, toConfigObject as ruleObject } from '../resources/rules.routes.ts';
import { toConfigObject as typedObject } from '../resources/typed-object.ts';
import { toConfigObject as triggerObject } from '../resources/webhook-triggers.routes.ts';
import type { ConfigSource, ConfigSources } from './publisher.ts';

// The published form of each kind of object: what the API shows, minus bookkeeping (timestamps),
// with secrets in their encrypted form.

const ids = (entity: LooseEntityName) => async (em: EntityManager) =>
  ((await em.find(entity, {}, { fields: ['id'] as never, orderBy: { id: 'asc' } as never })) as { id: string }[]).map(
    (row) => row.id,
  );

const source = <E extends { version: number }>(
  entity: LooseEntityName,
  render: (em: EntityManager, row: E) => Promise<Record<string, unknown>> | Record<string, unknown>,
): ConfigSource => ({
  async load(em, id) {
    const row = (await em.findOne(entity, { id } as never, { disableIdentityMap: true })) as E | null;
    return row ? { version: row.version, object: await render(em, row) } : null;
  },
  listIds: ids(entity),
});

export const configSources: ConfigSources = {
  destination: source(DestinationEntity as LooseEntityName, (_em, row) => typedObject(row as never)),
  connector: source(ConnectorEntity as LooseEntityName, (_em, row) => typedObject(row as never)),
  rule: source(RoutingRuleEntity as LooseEntityName, async (em, row) =>
    ruleObject(await loadRuleView(em, row as never)),
  ),
  route: source(RouteEntity as LooseEntityName, async (em, row: { id: string; version: number }) =>
    routeObject(row as never, await loadRuleIds(em, row.id)),
  ),
  job: source(SchedulerJobEntity as LooseEntityName, (_em, row) => jobObject(row as never)),
  'webhook-trigger': source(WebhookTriggerEntity as LooseEntityName, (_em, row) => triggerObject(row as never)),
};
