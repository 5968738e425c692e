import type { Router } from 'express';
import type { ControlPlaneContext } from '../context.ts';
import { DestinationEntity, RuleDestinationEntity, type Destination } from '../db/entities.ts';
import {
  forgetDeletedDestination,
  placeNewDestination,
  placeReenabledDestination,
} from '../positions/destination-hooks.ts';
import { typedObjectRoutes, type TypedObjectSpec } from './typed-object.ts';

export const destinationSpec = (context: ControlPlaneContext): TypedObjectSpec<Destination> => ({
  kind: 'destination',
  path: '/api/v1/destinations',
  idPrefix: 'dst',
  label: 'destination',
  entity: DestinationEntity,
  initial: {},
  async usedBy(em, id) {
    const links = await em.find(RuleDestinationEntity, { destinationId: id }, { limit: 20 });
    return links.map((link) => ({ kind: 'rule', id: link.ruleId }));
  },
  // NOTE: the consumer-group offsets are written before the commit and the publish, so the
  // router never starts a destination from anywhere else than where startFrom says.
  onCreate: (id, body) => placeNewDestination(context, id, body.startFrom),
  async onUpdate(destination, patch) {
    if (patch.startFrom !== undefined) await placeReenabledDestination(context, destination, patch);
  },
  onDelete: (id) => forgetDeletedDestination(context, id),
});

export function destinationRoutes(context: ControlPlaneContext): Router {
  return typedObjectRoutes(destinationSpec(context), context);
}
