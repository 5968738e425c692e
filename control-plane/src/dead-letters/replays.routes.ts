import { Router } from 'express';
import type { ControlPlaneContext } from '../context.ts';
import { isoOf } from './store.ts';
import { ApiProblem, conflict, notFound } from '../http/problem.ts';
import { DestinationEntity } from '../db/entities.ts';
import { actorOf } from './dead-letters.routes.ts';
import { pageQuery, param } from '../resources/common.ts';
import { listReplays, type ReplayRow } from './replay.store.ts';
import type { ReplayService } from './replay.service.ts';

// Replays and backfills as jobs with progress.

export const replayDto = (row: ReplayRow) => ({
  id: row.id,
  kind: row.kind,
  status: row.status,
  requestedBy: row.requested_by,
  selection: row.selection,
  progress: {
    total: row.total,
    published: row.published,
    skipped: row.skipped,
    awaitingReports: Math.max(0, row.expected_reports - row.delivered - row.dead_lettered - row.filtered),
    delivered: row.delivered,
    deadLettered: row.dead_lettered,
    filtered: row.filtered,
  },
  error: row.error,
  createdAt: new Date(row.created_at).toISOString(),
  endedAt: isoOf(row.ended_at),
});

export function replayRoutes(context: ControlPlaneContext, replays: ReplayService): Router {
  const router = Router();

  router.get('/api/v1/replays', async (request, response) => {
    const page = pageQuery(request, context, '-createdAt');
    let before: { createdAt: Date; id: string } | undefined;
    if (page.cursor) {
      try {
        const data = JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8')) as { c: string; id: string };
        before = { createdAt: new Date(data.c), id: String(data.id) };
        if (Number.isNaN(before.createdAt.getTime())) throw new Error('bad date');
      } catch {
        throw new ApiProblem(400, 'invalid-cursor', 'the cursor is not one this API produced');
      }
    }
    const rows = await listReplays(context.orm.em.fork(), { limit: page.limit, before });
    const more = rows.length > page.limit;
    const items = more ? rows.slice(0, page.limit) : rows;
    const last = items.at(-1);
    response.json({
      items: items.map(replayDto),
      nextCursor:
        more && last
          ? Buffer.from(JSON.stringify({ c: new Date(last.created_at).toISOString(), id: last.id })).toString(
              'base64url',
            )
          : null,
    });
  });

  // A backfill: the events of a time range sent again to this destination only (replay.service.ts).
  router.post('/api/v1/destinations/:id/backfill', async (request, response) => {
    const id = param(request, 'id');
    const body = request.body as { from: string; to?: string };
    const from = new Date(body.from);
    const to = body.to === undefined ? undefined : new Date(body.to);
    if (to && to <= from) throw new ApiProblem(400, 'invalid-request', '"to" must be after "from"');
    if (from.getTime() > Date.now()) throw new ApiProblem(400, 'invalid-request', '"from" is in the future');
    const destination = await context.orm.em.fork().findOne(DestinationEntity, { id });
    if (!destination) throw notFound('destination', id);
    if (!destination.enabled)
      throw conflict(
        'destination-disabled',
        `destination "${id}" is disabled: a backfill is delivered by the running destination; enable it first (or enable it with startFrom to move its position instead)`,
      );
    const replay = await replays.startBackfill(id, { from, to }, actorOf(response));
    response.status(202).location(`/api/v1/replays/${replay.id}`).json(replayDto(replay));
  });

  router.get('/api/v1/replays/:id', async (request, response) => {
    const id = param(request, 'id');
    const replay = await replays.get(id);
    if (!replay) throw notFound('replay', id);
    response.json(replayDto(replay));
  });
  return router;
}
