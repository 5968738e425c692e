import type { EntityManager } from '@mikro-orm/postgresql';
import type { ControlPlaneContext } from '../context.ts';
import type { Connector, Destination } from '../db/entities.ts';
import type { TemplateKind } from '../templates/catalog.ts';
import { connectorSpec } from './connectors.routes.ts';
import { destinationSpec } from './destinations.routes.ts';
import { createTypedObjectWith, type TypedObjectCreate } from './typed-object.ts';

/** Creates a connector or a destination by kind (templates instantiate either) in the caller's transaction. */
export function createTypedObject(
  context: ControlPlaneContext,
  em: EntityManager,
  kind: TemplateKind,
  body: TypedObjectCreate,
): Promise<Connector | Destination> {
  return kind === 'connector'
    ? createTypedObjectWith(connectorSpec, context, em, body)
    : createTypedObjectWith(destinationSpec(context), context, em, body);
}
