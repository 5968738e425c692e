import { Router } from 'express';
import type { Kafka } from 'kafkajs';
import { decodeWireFormat, errorMessage, topicNames, type MuxlySettings } from '@muxly/common';
import { compileRule } from '@muxly/schemas';
import type { ControlPlaneContext } from '../context.ts';
import { RoutingRuleEntity } from '../db/entities.ts';
import { ApiProblem, notFound } from '../http/problem.ts';
import { checkLogic, loadRuleView, toConfigObject } from '../resources/rules.routes.ts';
import { readWindow, type EventsWindow } from './events.window.ts';

// POST /api/v1/routing-rules/dry-run: a rule (saved, or as it would be saved) evaluated on real
// traffic, a window of `muxly.events`, with the compiler the router runs. Nothing is delivered
// and no destination's position moves (the window is read by a throw-away consumer group).

interface DryRunBody {
  ruleId?: string;
  rule?: { condition?: unknown; transformations?: unknown[]; destinationIds?: string[] };
  window: { lastEvents?: number; from?: string; to?: string };
  sampleSize?: number;
}

const READ_TIMEOUT_MS = 60_000;

export function dryRunRoutes(context: ControlPlaneContext, kafka: Kafka, settings: MuxlySettings): Router {
  const router = Router();
  const eventsTopic = topicNames(settings.topics.prefix).events;

  router.post('/api/v1/routing-rules/dry-run', async (request, response) => {
    const body = request.body as DryRunBody;
    let definition: { condition?: unknown; transformations?: unknown[]; destinationIds: string[] };
    if (body.ruleId) {
      const saved = await context.orm.em.fork().findOne(RoutingRuleEntity, { id: body.ruleId });
      if (!saved) throw notFound('routing rule', body.ruleId);
      const view = toConfigObject(await loadRuleView(context.orm.em.fork(), saved));
      definition = { ...view, ...body.rule, destinationIds: body.rule?.destinationIds ?? view.destinationIds };
    } else {
      definition = { ...body.rule, destinationIds: body.rule?.destinationIds ?? [] };
    }
    checkLogic(definition.condition, definition.transformations ?? []);
    const evaluate = compileRule({
      condition: definition.condition,
      transformations: definition.transformations ?? [],
    });

    const window: EventsWindow =
      body.window.lastEvents !== undefined
        ? { lastEvents: body.window.lastEvents }
        : { from: new Date(body.window.from!), to: body.window.to ? new Date(body.window.to) : undefined };
    if ('from' in window && window.to && window.to <= window.from)
      throw new ApiProblem(400, 'invalid-request', 'window.to must be after window.from');

    const startedAt = Date.now();
    const records = await readWindow(kafka, eventsTopic, window, {
      groupPrefix: `${eventsTopic}.dry-run.`,
      timeoutMs: READ_TIMEOUT_MS,
    }).catch((error: unknown) => {
      throw new ApiProblem(503, 'kafka-unavailable', `the events could not be read: ${errorMessage(error)}`);
    });
    const sampleSize = body.sampleSize ?? 5;
    const counts = { scanned: records.length, matched: 0, notMatched: 0, failed: 0, undecodable: 0 };
    const samples: { eventId: unknown; before: unknown; after: unknown }[] = [];
    const failures: { eventId: unknown; error: string }[] = [];
    for (const record of records) {
      let event: Record<string, unknown>;
      try {
        event = decodeWireFormat(record.message.value ?? Buffer.alloc(0)).value as Record<string, unknown>;
      } catch {
        counts.undecodable += 1;
        continue;
      }
      try {
        const result = evaluate(event);
        if (!result.matched) {
          counts.notMatched += 1;
          continue;
        }
        counts.matched += 1;
        if (samples.length < sampleSize)
          samples.push({ eventId: event.id ?? null, before: event, after: result.event });
      } catch (error) {
        // A transformation that throws on this event: the router would apply the route's onFailure.
        counts.failed += 1;
        if (failures.length < sampleSize) failures.push({ eventId: event.id ?? null, error: errorMessage(error) });
      }
    }
    response.json({
      ...counts,
      perDestination: definition.destinationIds.map((destinationId) => ({ destinationId, matched: counts.matched })),
      window: {
        firstEventAt: records[0] ? new Date(Number(records[0].message.timestamp)).toISOString() : null,
        lastEventAt: records.at(-1) ? new Date(Number(records.at(-1)!.message.timestamp)).toISOString() : null,
      },
      samples,
      failures,
      durationMs: Date.now() - startedAt,
    });
  });
  return router;
}
