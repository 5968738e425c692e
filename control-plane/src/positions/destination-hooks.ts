import { DestinationEntity } from '../db/entities.ts';
import type { ControlPlaneContext } from '../context.ts';
import { unprocessable } from '../http/problem.ts';
import { forgetLater, type StartFrom } from './start-from.ts';

// The destination API's hooks into positions (start-from.ts): create, re-enable, delete.

/**
 * A new destination starts from `now` unless told otherwise. One created again with the id of a
 * destination deleted within the grace period resumes from its kept position, unless told otherwise.
 */
export async function placeNewDestination(
  context: ControlPlaneContext,
  id: string,
  startFrom: StartFrom | undefined,
): Promise<void> {
  const positions = context.positions;
  if (!positions) return;
  if (startFrom === undefined && (await positions.hasPosition(id))) {
    context.logger.info('destination created again: it resumes from its kept position', { destination: id });
    return;
  }
  await positions.startFrom(id, startFrom ?? 'now');
}

/** `startFrom` on a PATCH: only when enabling a disabled destination (its worker is stopped). */
export async function placeReenabledDestination(
  context: ControlPlaneContext,
  destination: { id: string; enabled: boolean },
  patch: { enabled?: boolean; startFrom?: StartFrom },
): Promise<void> {
  if (patch.enabled !== true || destination.enabled)
    throw unprocessable('startFrom applies only when enabling a disabled destination', [
      { pointer: '/startFrom', detail: 'send it with "enabled": true while the destination is disabled' },
    ]);
  await context.positions?.startFrom(destination.id, patch.startFrom!);
}

export function forgetDeletedDestination(context: ControlPlaneContext, id: string): void {
  const positions = context.positions;
  if (!positions) return;
  forgetLater(positions, id, {
    graceSeconds: context.deletedDestinationGroupGraceSeconds ?? 0,
    exists: async () => (await context.orm.em.fork().findOne(DestinationEntity, { id })) !== null,
    logger: context.logger,
  });
}
