import { Router } from 'express';
import type { ControlPlaneContext } from '../context.ts';
import { ConnectorEntity, RouteEntity, SchedulerJobEntity, type Connector } from '../db/entities.ts';
import { param } from './common.ts';
import { typedObjectHandlers, type TypedObjectSpec } from './typed-object.ts';

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

export function connectorRoutes(context: ControlPlaneContext): Router {
  const spec = connectorSpec;
  const handlers = typedObjectHandlers(spec, context);
  const router = Router();
  router.get(spec.path, handlers.list);
  router.post(spec.path, handlers.create);
  router.get(`${spec.path}/:id`, handlers.get);
  router.patch(`${spec.path}/:id`, handlers.update);
  router.delete(`${spec.path}/:id`, handlers.remove);
  router.post(`${spec.path}/:id/test`, handlers.test);
  router.get(`${spec.path}/:id/state`, async (request, response) => {
    const connector = await handlers.load(context.orm.em.fork(), param(request, 'id'));
    response.json({ connectorId: connector.id, state: connector.state ?? null });
  });
  return router;
}
