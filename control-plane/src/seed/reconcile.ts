import { isDeepStrictEqual } from 'node:util';
import type { Static } from '@sinclair/typebox';
import { ConfigurationError, type MuxlySettings } from '@muxly/common';
import type { DestinationDefinition as DestinationDefinitionSchema } from '@muxly/schemas';
import type { ControlPlaneContext } from '../context.ts';
import { DestinationEntity, RouteEntity, RoutingRuleEntity } from '../db/entities.ts';
import { ApiProblem } from '../http/problem.ts';
import { checkDestinations, checkLogic, loadRuleView, replaceChildren } from '../resources/rules.routes.ts';
import { checkReferences, loadRuleIds, replaceRuleIds } from '../resources/routes.routes.ts';
import { secretContext } from '../resources/typed-object.ts';
import type { ConfigKind } from '../config/publisher.ts';
import { placeNewDestination } from '../positions/destination-hooks.ts';

// The declarative seed: the `pipeline` section of the settings document (YAML/JSON/TOML, the
// shared loader) lists destinations, rules and routes by id. At start-up each listed object is created
// or brought up to date with the same validation as the API; objects the file does not list
// are left alone (they may have been made through the API). A wrong object stops the start with
// a message naming it, like any other bad setting.

type Pipeline = MuxlySettings['pipeline'];
type DestinationDefinition = Static<typeof DestinationDefinitionSchema>;

export interface ReconcileResult {
  created: number;
  updated: number;
  unchanged: number;
  changed: number;
}

function asConfigurationError(place: string, error: unknown): never {
  if (error instanceof ApiProblem) {
    const details = (error.errors ?? []).map((item) => `${place}${item.pointer.replaceAll('/', '.')}: ${item.detail}`);
    throw new ConfigurationError(`Invalid ${place}: ${error.message}`, details);
  }
  throw error;
}

export async function reconcilePipeline(context: ControlPlaneContext, pipeline: Pipeline): Promise<ReconcileResult> {
  const result: ReconcileResult = { created: 0, updated: 0, unchanged: 0, changed: 0 };
  const touched: [ConfigKind, string][] = [];
  const { templates, keyring } = context;
  const created: string[] = [];

  for (const [index, definition] of pipeline.destinations.entries()) {
    const place = `pipeline.destinations[${index}]`;
    await context.orm.em.fork().transactional(async (em) => {
      const { config, credentials } = splitSecrets(context, definition);
      let stored: Record<string, unknown>;
      try {
        stored = templates.validate('destination', definition.type, config, credentials);
      } catch (error) {
        asConfigurationError(place, error);
      }
      const existing = await em.findOne(DestinationEntity, { id: definition.id });
      const name = definition.name ?? definition.id;
      if (!existing) {
        em.create(DestinationEntity, {
          id: definition.id,
          name,
          type: definition.type,
          enabled: definition.enabled,
          config: stored,
          credentials: credentials ? keyring.encrypt(credentials, secretContext('destination', definition.id)) : null,
        });
        result.created++;
        created.push(definition.id);
      } else {
        const currentSecrets = existing.credentials
          ? keyring.decrypt(existing.credentials, secretContext('destination', existing.id))
          : null;
        const same =
          existing.name === name &&
          existing.type === definition.type &&
          existing.enabled === definition.enabled &&
          isDeepStrictEqual(existing.config, stored) &&
          isDeepStrictEqual(currentSecrets, credentials);
        if (same) {
          result.unchanged++;
          return;
        }
        Object.assign(existing, { name, type: definition.type, enabled: definition.enabled, config: stored });
        if (!isDeepStrictEqual(currentSecrets, credentials)) {
          existing.credentials = (
            credentials ? keyring.encrypt(credentials, secretContext('destination', existing.id)) : null
          ) as never;
        }
        result.updated++;
      }
      touched.push(['destination', definition.id]);
      await em.flush();
    });
  }

  // Like a destination created through the API, a new seeded one starts from now (its position is
  // written before the configuration is published); one whose group kept a position resumes there.
  for (const id of created) {
    try {
      await placeNewDestination(context, id, undefined);
    } catch (error) {
      // NOTE: a router that reads the same seed from its own settings may start delivering the
      // destination before this control plane has written its position (services start in any
      // order). It then delivers from the position it took; refusing to start would not move it.
      if (!(error instanceof ApiProblem && error.type === 'destination-running')) throw error;
      context.logger.warn('seeded destination already delivered by a router: it keeps its position', {
        destination: id,
      });
    }
  }

  for (const [index, definition] of pipeline.rules.entries()) {
    const place = `pipeline.rules[${index}]`;
    await context.orm.em.fork().transactional(async (em) => {
      try {
        checkLogic(definition.condition, definition.transformations);
        await checkDestinations(em, definition.destinationIds);
      } catch (error) {
        asConfigurationError(place, error);
      }
      const fields = {
        name: definition.name ?? definition.id,
        priority: definition.priority,
        enabled: definition.enabled,
        condition: definition.condition ?? null,
        stopOnMatch: definition.stopOnMatch,
      };
      const existing = await em.findOne(RoutingRuleEntity, { id: definition.id });
      if (!existing) {
        em.create(RoutingRuleEntity, { id: definition.id, ...fields });
        await em.flush();
        result.created++;
      } else {
        const view = await loadRuleView(em, existing);
        const same =
          Object.entries(fields).every(([key, value]) =>
            isDeepStrictEqual((existing as Record<string, unknown>)[key] ?? null, value),
          ) &&
          isDeepStrictEqual(view.transformations, definition.transformations) &&
          isDeepStrictEqual(view.destinationIds, definition.destinationIds);
        if (same) {
          result.unchanged++;
          return;
        }
        Object.assign(existing, fields, { updatedAt: new Date() });
        result.updated++;
      }
      await replaceChildren(em, definition.id, definition.transformations, definition.destinationIds);
      await em.flush();
      touched.push(['rule', definition.id]);
    });
  }
  for (const [index, definition] of (pipeline.routes ?? []).entries()) {
    const place = `pipeline.routes[${index}]`;
    await context.orm.em.fork().transactional(async (em) => {
      try {
        await checkReferences(em, definition);
      } catch (error) {
        asConfigurationError(place, error);
      }
      const fields = {
        name: definition.name ?? definition.id,
        connectorId: definition.connectorId ?? null,
        enabled: definition.enabled,
        errorHandling: { ...definition.errorHandling },
      };
      const existing = await em.findOne(RouteEntity, { id: definition.id });
      if (!existing) {
        em.create(RouteEntity, { id: definition.id, ...fields });
        await em.flush();
        result.created++;
      } else {
        const same =
          Object.entries(fields).every(([key, value]) =>
            isDeepStrictEqual((existing as Record<string, unknown>)[key] ?? null, value),
          ) && isDeepStrictEqual(await loadRuleIds(em, definition.id), definition.ruleIds);
        if (same) {
          result.unchanged++;
          return;
        }
        Object.assign(existing, fields, { updatedAt: new Date() });
        result.updated++;
      }
      await replaceRuleIds(em, definition.id, definition.ruleIds);
      await em.flush();
      touched.push(['route', definition.id]);
    });
  }
  result.changed = result.created + result.updated;
  for (const [kind, id] of touched) await context.publisher.notify(kind, id);
  return result;
}

/** The seed file has one config per destination; its secret fields become encrypted credentials. */
function splitSecrets(context: ControlPlaneContext, definition: DestinationDefinition) {
  const secrets = new Set(context.templates.get('destination', definition.type)?.secrets ?? []);
  const config: Record<string, unknown> = {};
  const credentials: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(definition.config)) (secrets.has(key) ? credentials : config)[key] = value;
  return { config, credentials: Object.keys(credentials).length > 0 ? credentials : null };
}
