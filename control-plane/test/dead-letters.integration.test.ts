import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { encodeWireFormat, topicNames } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { waitFor } from '../../test/support/services.ts';
import { expectProblem } from './harness.ts';
import { ADMIN, queryRows, startAuthHarness, type AuthHarness } from './auth/support.ts';

// The dead-letter index against real Kafka and PostgreSQL: records written to the DLQ topic with
// the headers the router and the transformer write are listed, filtered, paged, counted, shown
// (credentials masked), resolved with who and when, and purged after the retention.

let h: AuthHarness;
let token: string;
let producer: Producer;
let dlqTopic: string;

beforeAll(async () => {
  h = await startAuthHarness();
  token = await h
    .login(ADMIN.email, ADMIN.password)
    .then((pair) => pair.accessToken)
    .catch((error: unknown) => {
      throw new Error(`${String(error)}\n${h.logs.filter((line) => line.includes('error')).join('\n')}`);
    });
  dlqTopic = topicNames(h.settings.topics.prefix).dlq;
  producer = h.service.kafka.producer();
  await producer.connect();
});
afterAll(async () => {
  await producer?.disconnect();
  await h?.close();
});

const api = (method: string, path: string, body?: unknown) => h.api(method, path, { token, body });

function routerLetter(destinationId: string, errorClass: string, message: string) {
  const id = randomUUID();
  const now = new Date().toISOString();
  const event = {
    id,
    schemaVersion: 1,
    kind: 'metric',
    name: 'signup',
    timestamp: now,
    receivedAt: now,
    source: { type: 'api', id: 'test' },
    value: 1,
    dimensions: { plan: 'pro' },
    attributes: { password: 'hunter2-secret', note: 'kept' },
  };
  return {
    id,
    record: {
      key: 'signup',
      value: encodeWireFormat(7, event),
      headers: {
        [DLQ_HEADERS.originalTopic]: 'muxly.events',
        [DLQ_HEADERS.originalPartition]: '0',
        [DLQ_HEADERS.originalOffset]: '42',
        [DLQ_HEADERS.stage]: 'router',
        [DLQ_HEADERS.destinationId]: destinationId,
        [DLQ_HEADERS.errorClass]: errorClass,
        [DLQ_HEADERS.errorMessage]: message,
        [DLQ_HEADERS.attempts]: '3',
        [DLQ_HEADERS.firstFailedAt]: now,
      },
    },
  };
}

const transformerLetter = () => ({
  key: 'raw-key',
  value: Buffer.from('{"not": "an envelope"'),
  headers: {
    [DLQ_HEADERS.originalTopic]: 'muxly.raw',
    [DLQ_HEADERS.originalPartition]: '1',
    [DLQ_HEADERS.originalOffset]: '7',
    [DLQ_HEADERS.stage]: 'transformer',
    [DLQ_HEADERS.errorClass]: 'InvalidEventError',
    [DLQ_HEADERS.errorMessage]: 'not JSON: Unexpected end of JSON input',
    [DLQ_HEADERS.attempts]: '1',
    [DLQ_HEADERS.firstFailedAt]: new Date().toISOString(),
  },
});

describe('dead letters', () => {
  const hooks = [1, 2, 3, 4, 5].map(() =>
    routerLetter('hook', 'RetryableError', 'HTTP 500 from https://user:pa55word@hooks.example.com/in?token=abc123'),
  );
  const mail = routerLetter('mail', 'PermanentError', 'HTTP 400: recipient refused');

  beforeAll(async () => {
    await producer.send({
      topic: dlqTopic,
      acks: -1,
      messages: [...hooks.map((letter) => letter.record), mail.record, transformerLetter()],
    });
    let last: unknown;
    await waitFor('the 7 dead letters to be indexed', async () => {
      const answer = await api('GET', '/api/v1/dead-letters?limit=100');
      last = answer.body;
      return answer.body?.items?.length === 7 ? true : undefined;
    }).catch((error: unknown) => {
      const logs = h.logs.filter((line) => /"(error|warn)"/.test(line)).slice(-5);
      throw new Error(`${String(error)}; last answer ${JSON.stringify(last)}; ${logs.join('\n')}`);
    });
  });

  it('lists them with what their headers say, filtered and paged by a cursor', async () => {
    const byHook = await api('GET', '/api/v1/dead-letters?destinationId=hook&limit=2');
    expect(byHook.status).toBe(200);
    expect(byHook.body.items).toHaveLength(2);
    const first = byHook.body.items[0];
    expect(first).toMatchObject({
      stage: 'router',
      destinationId: 'hook',
      errorClass: 'RetryableError',
      attempts: 3,
      status: 'open',
      original: { topic: 'muxly.events', partition: 0, offset: '42', index: null },
    });
    // Credentials inside an error message are masked.
    expect(first.errorMessage).toBe('HTTP 500 from https://[redacted]@hooks.example.com/in?token=[redacted]');

    const seen = new Set<string>(byHook.body.items.map((item: { eventId: string }) => item.eventId));
    let cursor = byHook.body.nextCursor as string | null;
    while (cursor) {
      const next = await api('GET', `/api/v1/dead-letters?destinationId=hook&limit=2&cursor=${cursor}`);
      expect(next.status).toBe(200);
      for (const item of next.body.items) seen.add(item.eventId);
      cursor = next.body.nextCursor;
    }
    expect([...seen].sort()).toEqual(hooks.map((letter) => letter.id).sort());

    const transformer = await api('GET', '/api/v1/dead-letters?stage=transformer');
    expect(transformer.body.items).toHaveLength(1);
    expect(transformer.body.items[0]).toMatchObject({ destinationId: null, errorClass: 'InvalidEventError' });
    const permanent = await api('GET', '/api/v1/dead-letters?errorClass=PermanentError');
    expect(permanent.body.items.map((item: { eventId: string }) => item.eventId)).toEqual([mail.id]);
    const future = await api('GET', `/api/v1/dead-letters?from=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.body.items).toEqual([]);

    expectProblem(await api('GET', '/api/v1/dead-letters?cursor=garbage'), 400);
    expectProblem(await api('GET', '/api/v1/dead-letters?stage=nowhere'), 400);
  });

  it('counts them per stage, destination and error class', async () => {
    const summary = await api('GET', '/api/v1/dead-letters/summary');
    expect(summary.status).toBe(200);
    expect(summary.body.total).toBe(7);
    const counts = Object.fromEntries(
      summary.body.groups.map(
        (group: { stage: string; destinationId: string | null; errorClass: string; count: number }) => [
          `${group.stage}/${group.destinationId}/${group.errorClass}`,
          group.count,
        ],
      ),
    );
    expect(counts).toEqual({
      'router/hook/RetryableError': 5,
      'router/mail/PermanentError': 1,
      'transformer/null/InvalidEventError': 1,
    });
  });

  it('shows one with its event, credential-like fields masked', async () => {
    const listed = await api('GET', '/api/v1/dead-letters?errorClass=PermanentError');
    const one = await api('GET', `/api/v1/dead-letters/${listed.body.items[0].id}`);
    expect(one.status).toBe(200);
    expect(one.body.key).toBe('signup');
    expect(one.body.headers[DLQ_HEADERS.destinationId]).toBe('mail');
    expect(one.body.body.encoding).toBe('event');
    expect(one.body.body.value).toMatchObject({ id: mail.id, name: 'signup', attributes: { note: 'kept' } });
    expect(one.body.body.value.attributes.password).toBe('[redacted]');
    expect(JSON.stringify(one.body)).not.toContain('hunter2');

    const raw = await api('GET', '/api/v1/dead-letters?stage=transformer');
    const bytes = await api('GET', `/api/v1/dead-letters/${raw.body.items[0].id}`);
    expect(bytes.body.body).toMatchObject({ encoding: 'bytes', sizeBytes: 21 });
    expectProblem(await api('GET', '/api/v1/dead-letters/dlq_missing'), 404);
  });

  it('resolves a selection with who and when; lists then show what still needs attention', async () => {
    const listed = await api('GET', '/api/v1/dead-letters?destinationId=hook&limit=2');
    const ids = listed.body.items.map((item: { id: string }) => item.id);
    const byIds = await api('POST', '/api/v1/dead-letters/resolve', { ids });
    expect(byIds).toMatchObject({ status: 200, body: { resolved: 2 } });
    // Resolving again changes nothing.
    expect((await api('POST', '/api/v1/dead-letters/resolve', { ids })).body).toEqual({ resolved: 0 });

    const resolved = await api('GET', '/api/v1/dead-letters?status=resolved');
    expect(resolved.body.items).toHaveLength(2);
    for (const item of resolved.body.items) {
      expect(item).toMatchObject({ status: 'resolved', resolvedBy: ADMIN.email, resolution: 'resolved' });
      expect(Date.now() - Date.parse(item.resolvedAt)).toBeLessThan(60_000);
    }
    const open = await api('GET', '/api/v1/dead-letters?destinationId=hook');
    expect(open.body.items).toHaveLength(3);

    const byFilter = await api('POST', '/api/v1/dead-letters/resolve', { filter: { destinationId: 'mail' } });
    expect(byFilter.body).toEqual({ resolved: 1 });
    expect((await api('GET', '/api/v1/dead-letters/summary')).body.total).toBe(4);
    expectProblem(await api('POST', '/api/v1/dead-letters/resolve', {}), 400);
  });

  it('exports the dead letters waiting per stage and destination', async () => {
    const text = await (await fetch(`${h.baseUrl}/metrics`)).text();
    expect(text).toMatch(/muxly_dead_letters_waiting\{[^}]*stage="router"[^}]*destination="hook"[^}]*\} 3/);
    expect(text).toMatch(/muxly_dead_letters_waiting\{[^}]*stage="transformer"[^}]*destination=""[^}]*\} 1/);
  });

  it('purges dead letters older than the retention, resolved or not', async () => {
    const old = await api('GET', '/api/v1/dead-letters?destinationId=hook&limit=1');
    const oldId = old.body.items[0].id as string;
    await queryRows(h.database, `update dead_letters set written_at = now() - interval '31 days' where id = $1`, [
      oldId,
    ]);
    expect(await h.service.deadLetters.indexer!.purge()).toBe(1);
    expectProblem(await api('GET', `/api/v1/dead-letters/${oldId}`), 404);
    expect((await api('GET', '/api/v1/dead-letters?status=all&limit=100')).body.items).toHaveLength(6);
  });
});
