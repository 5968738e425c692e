import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Producer } from 'kafkajs';
import { encodeWireFormat, topicNames } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { waitFor } from '../../test/support/services.ts';
import { startHarness, type Harness } from './harness.ts';

// `muxly` (the workspace's bin) run as a process against a real control plane: tables for
// people, JSON for scripts, problems as messages with a non-zero exit code.

const CLI = fileURLToPath(new URL('../src/cli/muxly.ts', import.meta.url));
const run = promisify(execFile);

let h: Harness;
let producer: Producer;
const eventIds = [randomUUID(), randomUUID()];

async function muxly(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, MUXLY_URL: h.baseUrl, MUXLY_TOKEN: 'not-checked-here' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  h = await startHarness();
  producer = h.service.kafka.producer();
  await producer.connect();
  const now = new Date().toISOString();
  await producer.send({
    topic: topicNames(h.settings.topics.prefix).dlq,
    acks: -1,
    messages: eventIds.map((id) => ({
      key: id,
      value: encodeWireFormat(1, { id, name: 'signup', kind: 'event', timestamp: now }),
      headers: {
        [DLQ_HEADERS.stage]: 'router',
        [DLQ_HEADERS.destinationId]: 'hook',
        [DLQ_HEADERS.errorClass]: 'RetryableError',
        [DLQ_HEADERS.errorMessage]: 'HTTP 503',
        [DLQ_HEADERS.attempts]: '10',
      },
    })),
  });
  await waitFor('the dead letters to be indexed', async () => {
    const answer = await h.api('GET', '/api/v1/dead-letters');
    return answer.body.items.length === 2;
  });
});
afterAll(async () => {
  await producer?.disconnect();
  await h?.close();
});

test('dlq list, show and resolve: a table for people, JSON for scripts', async () => {
  const table = await muxly('dlq', 'list', '--destination', 'hook');
  expect(table.code).toBe(0);
  const [header, ...lines] = table.stdout.trim().split('\n');
  expect(header).toMatch(/^ID\s+WRITTEN\s+STAGE\s+DESTINATION\s+ERROR\s+TRIES\s+STATUS\s+MESSAGE$/);
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^dlq_\S+\s+\S+\s+router\s+hook\s+RetryableError\s+10\s+open\s+HTTP 503$/);

  const json = JSON.parse((await muxly('dlq', 'list', '--json')).stdout);
  expect(json.items.map((item: { eventId: string }) => item.eventId).sort()).toEqual([...eventIds].sort());

  const id = json.items[0].id as string;
  const shown = JSON.parse((await muxly('dlq', 'show', id, '--json')).stdout);
  expect(shown).toMatchObject({ id, body: { encoding: 'event' } });
  expect((await muxly('dlq', 'show', id)).stdout).toContain('"name": "signup"');

  const resolved = await muxly('dlq', 'resolve', id);
  expect(resolved).toMatchObject({ code: 0, stdout: '1 dead letter(s) resolved\n' });
  expect(JSON.parse((await muxly('dlq', 'list', '--json')).stdout).items).toHaveLength(1);
});

test('dlq replay starts a replay; rules dry-run answers; problems exit non-zero with the reason', async () => {
  const replay = JSON.parse((await muxly('dlq', 'replay', '--destination', 'hook', '--no-wait', '--json')).stdout);
  expect(replay).toMatchObject({ kind: 'dead-letters', progress: { total: 1 } });

  const dryRun = JSON.parse(
    (
      await muxly(
        'rules',
        'dry-run',
        '--condition',
        '{"path":"$.name","op":"eq","value":"signup"}',
        '--last',
        '100',
        '--json',
      )
    ).stdout,
  );
  expect(dryRun).toMatchObject({ scanned: 0, matched: 0 });

  const missing = await muxly('dlq', 'show', 'dlq_missing');
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/404 Not Found: dead letter "dlq_missing" does not exist/);
  const nothing = await muxly('dlq', 'replay');
  expect(nothing.code).toBe(2);
  expect(nothing.stderr).toMatch(/give dead-letter ids or a filter/);
});
