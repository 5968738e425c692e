import { Router } from 'express';
import type { Kafka } from 'kafkajs';
import { errorMessage, topicNames, type Logger, type MuxlySettings } from '@muxly/common';
import { ApiProblem } from '../http/problem.ts';
import { parseDimensions, type TapFilter } from './tap.filter.ts';
import { TapSession, type TapStage } from './tap.session.ts';

// GET /api/v1/tap: server-sent events following a metric (or a filter) through the pipeline as
// it happens: the raw record, the unified event, each destination's outcome with the rule that
// routed it. Bounded: a few concurrent taps per instance, a rate per tap.

/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

export interface TapRoutes {
  router: Router;
  /** Ends every open tap (the control plane stops). */
  closeAll(): Promise<void>;
}

const asList = (value: unknown): string[] =>
  value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);

export function tapRoutes(kafka: Kafka, settings: MuxlySettings, logger: Logger): TapRoutes {
  const router = Router();
  const topics = topicNames(settings.topics.prefix);
  const limits = settings.controlPlane.tap;
  /** The open taps, each with what ends it. */
  const open = new Map<TapSession, () => void>();

  router.get('/api/v1/tap', async (request, response) => {
    const query = request.query as Record<string, unknown>;
    const dimensions = parseDimensions(asList(query.dimension));
    if (typeof dimensions === 'string') throw new ApiProblem(400, 'invalid-request', dimensions);
    const filter: TapFilter = {
      ...(typeof query.name === 'string' ? { name: query.name } : {}),
      ...(typeof query.source === 'string' ? { source: query.source } : {}),
      dimensions,
    };
    if (filter.name === undefined && filter.source === undefined && Object.keys(dimensions).length === 0)
      throw new ApiProblem(400, 'invalid-request', 'give what to follow: name, source or dimension (key=value)');
    if (open.size >= limits.maxConcurrent) {
      response.setHeader('Retry-After', '10');
      throw new ApiProblem(
        429,
        'too-many-taps',
        `${limits.maxConcurrent} taps are open on this control plane (controlPlane.tap.maxConcurrent); close one or retry later`,
      );
    }

    let ended = false;
    // What arrives before the stream is open waits here (the answer may still become a problem).
    let early: string[] | undefined = [];
    const write = (stage: TapStage, data: unknown) => {
      if (ended) return;
      const frame = `event: ${stage}\ndata: ${JSON.stringify(data)}\n\n`;
      if (early) early.push(frame);
      else response.write(frame);
    };
    const session = new TapSession({
      kafka,
      topics,
      groupPrefix: `${topics.events}.tap.`,
      filter,
      maxEventsPerSecond: limits.maxEventsPerSecond,
      emit: (stage, data) => {
        write(stage, data);
        if (stage === 'error') end();
      },
      logger,
    });
    const keepalive = setInterval(() => !ended && response.write(': keepalive\n\n'), KEEPALIVE_MS);
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepalive);
      open.delete(session);
      response.end();
      session.stop().catch(() => undefined);
    };
    open.set(session, end);
    // The client left (or the connection dropped): the consumer stops and its group is deleted.
    response.on('close', end);

    try {
      await session.start();
    } catch (error) {
      open.delete(session);
      clearInterval(keepalive);
      ended = true;
      await session.stop();
      throw new ApiProblem(503, 'kafka-unavailable', `the tap could not start reading: ${errorMessage(error)}`);
    }
    if (ended) return void (await session.stop());
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    response.write(
      `event: ready\ndata: ${JSON.stringify({
        filter,
        topics: [topics.raw, topics.events, topics.deliveries],
        maxEventsPerSecond: limits.maxEventsPerSecond,
      })}\n\n`,
    );
    for (const frame of early ?? []) response.write(frame);
    early = undefined;
  });

  return {
    router,
    async closeAll() {
      const sessions = [...open.keys()];
      for (const end of [...open.values()]) end();
      await Promise.all(sessions.map((session) => session.stop()));
    },
  };
}
