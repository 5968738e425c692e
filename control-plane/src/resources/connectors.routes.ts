import type { Router } from 'express';
import type { ControlPlaneContext } from '../context.ts';
import { ConnectorEntity, RouteEntity, SchedulerJobEntity, type Connector } from '../db/entities.ts';
import { param, type Operation } from './common.ts';
import { loadTypedObject, typedObjectRoutes, type TypedObjectSpec } from './typed-object.ts';

export const connectorSpec: TypedObjectSpec<Connector> = {
  kind: 'connector',
  path: '/api/v1/connectors',
  idPrefix: 'con',
  label: 'connector',
  entity: ConnectorEntity,
  // A connector's sync state (cursor) starts empty; its runs fill it.
  initial: { state: null },
  async usedBy(em, id) {
    const routes = await em.find(RouteEntity, { connectorId: id }, { fields: ['id'], limit: 20 });
    const jobs = await em.find(SchedulerJobEntity, { connectorId: id }, { fields: ['id'], limit: 20 });
    return [
      ...routes.map((route) => ({ kind: 'route', id: route.id })),
      ...jobs.map((job) => ({ kind: 'job', id: job.id })),
    ];
  },
};

const getConnectorState: Operation = (context) => async (request, response) => {
  const connector = await loadTypedObject(connectorSpec, context.orm.em.fork(), param(request, 'id'));
  response.json({ connectorId: connector.id, state: connector.state ?? null });
};

export function connectorRoutes(context: ControlPlaneContext): Router {
  const router = typedObjectRoutes(connectorSpec, context);
  router.get(`${connectorSpec.path}/:id/state`, getConnectorState(context));
  return router;
}
