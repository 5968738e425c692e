import { Router, type Request, type Response } from 'express';
import { principalOf } from '../auth/authorization.ts';
import type { ControlPlaneContext } from '../context.ts';
import { notFound } from '../http/problem.ts';
import { pageQuery, param, queryString } from '../resources/common.ts';
import { redactText, renderBody } from './body.ts';
import type { ReplayService } from './replay.service.ts';
import { replayDto } from './replays.routes.ts';
import {
  getDeadLetter,
  isoOf,
  listDeadLetters,
  resolveSelection,
  summarize,
  type DeadLetterFilter,
  type DeadLetterRow,
  type DeadLetterStatus,
  type Selection,
} from './store.ts';

// Dead letters: list and filter, a summary of counts, one with its body, resolve, replay.

const PATH = '/api/v1/dead-letters';

const deadLetterDto = (row: Omit<DeadLetterRow, 'body' | 'headers' | 'record_key'>) => ({
  id: row.id,
  stage: row.stage,
  destinationId: row.destination_id,
  errorClass: row.error_class,
  errorMessage: redactText(row.error_message),
  attempts: row.attempts,
  firstFailedAt: isoOf(row.first_failed_at),
  writtenAt: new Date(row.written_at).toISOString(),
  eventId: row.event_id,
  original: {
    topic: row.original_topic,
    partition: row.original_partition,
    offset: row.original_offset,
    index: row.original_index,
  },
  dlq: { partition: row.dlq_partition, offset: String(row.dlq_offset) },
  status: row.resolved_at ? 'resolved' : 'open',
  resolvedAt: isoOf(row.resolved_at),
  resolvedBy: row.resolved_by,
  resolution: row.resolution,
  replayId: row.replay_id,
});

const dateQuery = (request: Request, name: string) => {
  const value = queryString(request, name);
  return value ? new Date(value) : undefined;
};

function filterOf(request: Request): DeadLetterFilter {
  return {
    stage: queryString(request, 'stage'),
    destinationId: queryString(request, 'destinationId'),
    errorClass: queryString(request, 'errorClass'),
    from: dateQuery(request, 'from'),
    to: dateQuery(request, 'to'),
    status: queryString(request, 'status') as DeadLetterStatus | undefined,
  };
}

interface SelectionBody {
  ids?: string[];
  filter?: {
    stage?: string;
    destinationId?: string;
    errorClass?: string;
    from?: string;
    to?: string;
    status?: DeadLetterStatus;
  };
}

/** The selection of a resolve or replay body (the document requires ids or a filter). */
function selectionOf(body: SelectionBody): Selection {
  const filter = body.filter;
  return {
    ids: body.ids,
    filter: filter && {
      ...filter,
      from: filter.from ? new Date(filter.from) : undefined,
      to: filter.to ? new Date(filter.to) : undefined,
    },
  };
}

export const actorOf = (response: Response) => principalOf(response)?.name ?? 'anonymous';

export function deadLetterRoutes(context: ControlPlaneContext, replays: ReplayService): Router {
  const router = Router();
  const em = () => context.orm.em.fork();

  router.get(PATH, async (request, response) => {
    const page = pageQuery(request, context, '-writtenAt');
    const { rows, nextCursor } = await listDeadLetters(em(), filterOf(request), {
      limit: page.limit,
      cursor: page.cursor,
      sort: page.sort === 'writtenAt' ? 'writtenAt' : '-writtenAt',
    });
    response.json({ items: rows.map(deadLetterDto), nextCursor });
  });

  router.get(`${PATH}/summary`, async (request, response) => {
    const groups = await summarize(em(), filterOf(request));
    response.json({
      total: groups.reduce((sum, group) => sum + Number(group.count), 0),
      groups: groups.map((group) => ({
        stage: group.stage,
        destinationId: group.destination_id,
        errorClass: group.error_class,
        count: Number(group.count),
        oldestAt: new Date(group.oldest).toISOString(),
        newestAt: new Date(group.newest).toISOString(),
      })),
    });
  });

  router.post(`${PATH}/resolve`, async (request, response) => {
    const resolved = await resolveSelection(
      em(),
      selectionOf(request.body as SelectionBody),
      actorOf(response),
      'resolved',
    );
    response.json({ resolved });
  });

  router.post(`${PATH}/replay`, async (request, response) => {
    const replay = await replays.start(selectionOf(request.body as SelectionBody), actorOf(response));
    response.status(202).location(`/api/v1/replays/${replay.id}`).json(replayDto(replay));
  });

  router.get(`${PATH}/:id`, async (request, response) => {
    const id = param(request, 'id');
    const row = await getDeadLetter(em(), id);
    if (!row) throw notFound('dead letter', id);
    const headers = Object.fromEntries(Object.entries(row.headers).map(([name, value]) => [name, redactText(value)]));
    response.json({
      ...deadLetterDto(row),
      key: row.record_key ? row.record_key.toString('utf8') : null,
      headers,
      body: renderBody(row.stage, row.body),
    });
  });
  return router;
}
