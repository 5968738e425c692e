import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { DLQ_HEADERS } from '@muxly/schemas';
import { waitFor } from '../../test/support/services.ts';
import { idsInFile as idsInFileAt, produceEvent, startWithRouter, type ControlPlaneWithRouter } from './events.ts';
import type { Harness } from './harness.ts';

// A webhook that answers 500 dead-letters what the router sends it, while a file destination
// beside it receives everything. After the webhook recovers, a replay sends the dead letters to
// the webhook ONLY: the file does not get them a second time.

describe('replaying dead letters to their own destination', () => {
  let stack: ControlPlaneWithRouter | undefined;
  let h: Harness;
  let producer: Producer;
  let directory: string;
  let eventsTopic: string;
  let webhook: Server;
  let failing = true;
  /** Event ids the webhook accepted (2xx), with the webhook-id of each request. */
  const accepted: { eventId: string; webhookId: string }[] = [];
  /** Event ids the webhook was sent at all, refused or not. */
  const reachedWebhook = new Set<string>();

  beforeAll(async () => {
    webhook = createServer((request, response) => {
      // The router's background health check of the destination: not a delivery.
      if (request.method === 'HEAD') return void response.writeHead(204).end();
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        reachedWebhook.add((JSON.parse(body) as { id: string }).id);
        if (failing) {
          response.writeHead(500).end('down for maintenance');
          return;
        }
        const event = JSON.parse(body) as { id: string };
        accepted.push({ eventId: event.id, webhookId: String(request.headers['webhook-id']) });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    // Dead letters after two quick tries, so the test need not wait for the default retries.
    stack = await startWithRouter('replay', { retry: { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50 } });
    ({ h, producer, directory, eventsTopic } = stack);
  });
  afterAll(async () => {
    await stack?.close();
    await new Promise((resolve) => webhook?.close(resolve));
  });

  const filePath = () => join(directory, 'all.jsonl');
  const idsInFile = (): Promise<string[]> => idsInFileAt(filePath());
  const produce = (name: string): Promise<string> => produceEvent(producer, eventsTopic, name);
  const countOf = (ids: string[], id: string) => ids.filter((one) => one === id).length;

  it('sends the dead letters again to the webhook only, and reports the progress', async () => {
    const port = (webhook.address() as AddressInfo).port;
    const hook = await h.api('POST', '/api/v1/destinations', {
      id: 'hook',
      name: 'hook',
      type: 'webhook',
      config: { url: `http://127.0.0.1:${port}/in` },
    });
    expect(hook.status).toBe(201);
    const file = await h.api('POST', '/api/v1/destinations', {
      id: 'file',
      name: 'file',
      type: 'file',
      config: { path: 'all.jsonl', fsync: false },
    });
    expect(file.status).toBe(201);
    const rule = await h.api('POST', '/api/v1/routing-rules', {
      id: 'everything',
      name: 'everything',
      destinationIds: ['hook', 'file'],
    });
    expect(rule.status).toBe(201);

    // Until the router applied the rule, events are (rightly) filtered: send until one arrives at
    // both destinations. NOTE: each destination routes an event when it reads it, so around the
    // moment the rule arrives one destination may take an event the other filtered; from an
    // event that reached both on, every event goes to both.
    const sent: string[] = [];
    await waitFor('the router to apply the rule', async () => {
      sent.push(await produce('probe'));
      const inFile = await idsInFile();
      return sent.some((id) => inFile.includes(id) && reachedWebhook.has(id));
    });
    for (let index = 0; index < 3; index += 1) sent.push(await produce('signup'));
    const inFile = await idsInFile();
    const routed = sent.filter(
      (id) => (inFile.includes(id) && reachedWebhook.has(id)) || sent.indexOf(id) >= sent.length - 3,
    );

    // Every routed event dead-letters at the webhook, with the headers that say why.
    const letters = await waitFor('the webhook dead letters to be listed', async () => {
      const answer = await h.api('GET', '/api/v1/dead-letters?destinationId=hook&limit=200');
      const ids = (answer.body.items as { eventId: string }[]).map((item) => item.eventId);
      return routed.every((id) => ids.includes(id)) ? (answer.body.items as Record<string, unknown>[]) : undefined;
    });
    for (const letter of letters) {
      expect(letter).toMatchObject({
        stage: 'router',
        destinationId: 'hook',
        errorClass: 'RetryableError',
        attempts: 2,
        status: 'open',
        original: { topic: eventsTopic },
      });
      expect(letter.errorMessage).toMatch(/HTTP 500/);
    }
    const detail = await h.api('GET', `/api/v1/dead-letters/${String(letters[0]!.id)}`);
    expect(detail.body.headers).toMatchObject({
      [DLQ_HEADERS.stage]: 'router',
      [DLQ_HEADERS.destinationId]: 'hook',
      [DLQ_HEADERS.originalTopic]: eventsTopic,
      [DLQ_HEADERS.attempts]: '2',
    });
    await waitFor('the file to have every routed event', async () => {
      const ids = await idsInFile();
      return routed.every((id) => ids.includes(id));
    });

    failing = false;
    const started = await h.api('POST', '/api/v1/dead-letters/replay', { filter: { destinationId: 'hook' } });
    expect(started.status).toBe(202);
    expect(started.headers.get('location')).toBe(`/api/v1/replays/${started.body.id}`);
    expect(started.body).toMatchObject({ kind: 'dead-letters', status: 'running' });
    const total = started.body.progress.total as number;
    expect(total).toBeGreaterThanOrEqual(routed.length);

    const done = await waitFor('the replay to finish', async () => {
      const replay = await h.api('GET', `/api/v1/replays/${started.body.id}`);
      return replay.body.status === 'running' ? undefined : replay.body;
    });
    expect(done).toMatchObject({
      status: 'succeeded',
      progress: { total, published: total, delivered: total, deadLettered: 0, filtered: 0, awaitingReports: 0 },
    });
    expect(done.endedAt).not.toBeNull();
    const listed = await h.api('GET', '/api/v1/replays');
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(started.body.id);

    for (const id of routed) expect([id, accepted.filter((one) => one.eventId === id).length]).toEqual([id, 1]);
    // The file is not sent the replayed events: a marker sent after the replay arrives alone.
    const marker = await produce('marker');
    await waitFor('the marker in the file', async () => (await idsInFile()).includes(marker));
    await waitFor('the marker at the webhook', async () => accepted.some((one) => one.eventId === marker));
    const finalFile = await idsInFile();
    for (const id of routed) expect([id, countOf(finalFile, id)]).toEqual([id, 1]);

    // The replayed dead letters are resolved by the replay; nothing waits any more.
    expect((await h.api('GET', '/api/v1/dead-letters?destinationId=hook')).body.items).toEqual([]);
    const resolved = await h.api('GET', '/api/v1/dead-letters?destinationId=hook&status=resolved&limit=200');
    for (const item of resolved.body.items)
      expect(item).toMatchObject({ resolution: 'replayed', replayId: started.body.id });

    // The same selection again: the webhook sees each event again with the same webhook-id, so
    // a receiver that upserts by it keeps one row per event.
    const again = await h.api('POST', '/api/v1/dead-letters/replay', {
      ids: resolved.body.items.map((item: { id: string }) => item.id),
    });
    expect(again.status).toBe(202);
    await waitFor('the second replay to finish', async () => {
      const replay = await h.api('GET', `/api/v1/replays/${again.body.id}`);
      return replay.body.status === 'succeeded';
    });
    for (const id of routed) {
      const deliveries = accepted.filter((one) => one.eventId === id);
      expect(deliveries).toHaveLength(2);
      expect(new Set(deliveries.map((one) => one.webhookId)).size).toBe(1);
    }
    expect((await h.api('POST', '/api/v1/dead-letters/replay', { filter: { destinationId: 'hook' } })).status).toBe(
      422,
    );
  });
});
