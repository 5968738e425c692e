import { jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, createLogger, ForbiddenDatabases } from '@muxly/common';
import { Registry } from 'prom-client';
import { RoutingTable } from '../../pipeline/pipeline.ts';
import { createDestination } from '../create.ts';
import type { DeliveryItem, DestinationContext } from '../destination.ts';
import { jsonLines } from './file.destination.ts';

// Every test writes under its own base folder (the operator's outbound.fileBaseDirectory); the
// paths in the configs are relative to it, as an editor would give them.
let base: string;
let context: DestinationContext;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'muxly-file-'));
  context = {
    destinationId: 'file',
    log: createLogger({ service: 'test', silent: true }),
    metrics: new Registry(),
    signal: new AbortController().signal,
    outbound: { fileBaseDirectory: base, allowAddresses: [] },
    forbiddenDatabases: new ForbiddenDatabases([]),
  };
});
const item = (id: string, extra: Record<string, unknown> = {}): DeliveryItem => ({
  id,
  event: { id, name: 'n', value: 1, dimensions: { env: 'prod' }, ...extra },
  topic: 't',
  partition: 0,
  offset: '0',
});

test('writes JSON lines, appending across batches and reopenings', async () => {
  const path = 'nested/out.jsonl';
  const first = await createDestination({ id: 'f', type: 'file', enabled: true, config: { path } }, context);
  await first.instance.send([item('a'), item('b')]);
  await first.instance.close();
  const second = await createDestination({ id: 'f', type: 'file', enabled: true, config: { path } }, context);
  await second.instance.send([item('c')]);
  await second.instance.close();
  expect(
    readFileSync(join(base, path), 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { id: string }).id),
  ).toEqual(['a', 'b', 'c']);
});

test('writes CSV with a header and quoted fields', async () => {
  const path = 'out.csv';
  const { instance } = await createDestination(
    {
      id: 'f',
      type: 'file',
      enabled: true,
      config: { path, format: 'csv', csvColumns: ['id', 'dimensions.env', 'note'] },
    },
    context,
  );
  await instance.send([item('a', { note: 'says "hi", twice' }), item('b')]);
  await instance.close();
  expect(readFileSync(join(base, path), 'utf8')).toBe('id,dimensions.env,note\na,prod,"says ""hi"", twice"\nb,prod,\n');
});

test('rotates by size, keeping every line', async () => {
  const dir = base;
  const path = 'out.jsonl';
  const { instance } = await createDestination(
    { id: 'f', type: 'file', enabled: true, config: { path, rotateBytes: 100 } },
    context,
  );
  for (const id of ['a', 'b', 'c', 'd']) await instance.send([item(id)]);
  await instance.close();
  const files = readdirSync(dir);
  expect(files.length).toBeGreaterThan(1);
  const ids = files
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').trim().split('\n'))
    .map((line) => (JSON.parse(line) as { id: string }).id);
  expect(ids.sort()).toEqual(['a', 'b', 'c', 'd']);
});

test('bad configuration is refused naming the field', async () => {
  await expect(
    createDestination({ id: 'f', type: 'file', enabled: true, config: { path: 'x', colour: 'red' } }, context),
  ).rejects.toThrow(/destinations\.f\.config\.colour is not a known field/);
  await expect(
    createDestination({ id: 'f', type: 'file', enabled: true, config: { format: 'csv' } }, context),
  ).rejects.toThrow(ConfigurationError);
  await expect(createDestination({ id: 'f', type: 'nope', enabled: true, config: {} }, context)).rejects.toThrow(
    /unknown type "nope"/,
  );
});

test('rotates by time; a rotated CSV file keeps its header and the new one starts with it', async () => {
  const dir = base;
  const path = 'out.csv';
  const { instance } = await createDestination(
    {
      id: 'f',
      type: 'file',
      enabled: true,
      config: { path, format: 'csv', csvColumns: ['id'], rotateIntervalSeconds: 1 },
    },
    context,
  );
  // The destination reads the clock with Date.now(): stepping it makes the interval exact instead of
  // depending on how long a send takes on a busy machine.
  let clock = Date.now();
  const now = jest.spyOn(Date, 'now').mockImplementation(() => clock);
  try {
    await instance.send([item('a')]);
    clock += 999;
    await instance.send([item('b')]);
    clock += 1;
    await instance.send([item('c')]);
    await instance.close();
  } finally {
    now.mockRestore();
  }
  const rotated = readdirSync(dir).filter((file) => file !== 'out.csv');
  expect(rotated).toHaveLength(1);
  expect(rotated[0]).toMatch(/^out\.csv\.\d{4}-\d{2}-\d{2}T/);
  expect(readFileSync(join(dir, rotated[0]!), 'utf8')).toBe('id\na\nb\n');
  expect(readFileSync(join(dir, path), 'utf8')).toBe('id\nc\n');
});

test('rotation never overwrites an earlier rotated file, even several per millisecond', async () => {
  const dir = base;
  const path = 'out.jsonl';
  // rotateBytes 1: every batch rotates the previous file; fsync off makes batches very fast.
  const { instance } = await createDestination(
    { id: 'f', type: 'file', enabled: true, config: { path, rotateBytes: 1, fsync: false } },
    context,
  );
  const ids = Array.from({ length: 30 }, (_, index) => `e${index}`);
  for (const id of ids) await instance.send([item(id)]);
  await instance.close();
  const files = readdirSync(dir);
  expect(files).toHaveLength(30);
  const found = files
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').trim().split('\n'))
    .map((line) => (JSON.parse(line) as { id: string }).id);
  expect(found.sort()).toEqual([...ids].sort());
});

test('a CSV cell a spreadsheet would run as a formula is written as text', async () => {
  const { instance } = await createDestination(
    { id: 'f', type: 'file', enabled: true, config: { path: 'out.csv', format: 'csv', csvColumns: ['id', 'note'] } },
    context,
  );
  const notes = ['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1', 'plain', '1-2'];
  await instance.send(notes.map((note, index) => item(`e${index}`, { note })));
  await instance.close();
  expect(readFileSync(join(base, 'out.csv'), 'utf8').split('\n').slice(1, -1)).toEqual([
    `e0,"'=HYPERLINK(""http://evil.example"",""x"")"`,
    "e1,'+1+1",
    "e2,'-2+3",
    "e3,'@SUM(A1)",
    "e4,'\t=1",
    `e5,"'\r=1"`,
    'e6,plain',
    'e7,1-2',
  ]);
});

describe('the file stays inside the base folder', () => {
  const create = (path: string) =>
    createDestination({ id: 'f', type: 'file', enabled: true, config: { path } }, context);

  test.each(['/etc/muxly-attack.jsonl', '../escape.jsonl', 'a/../../escape.jsonl', 'a/..', '..', 'C:\\x', '\\x'])(
    'the path %s is refused, naming the field',
    async (path) => {
      await expect(create(path)).rejects.toThrow(/destinations\.f\.config\.path/);
    },
  );

  test('a symbolic link to a folder outside is refused at open time, and nothing is written there', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'muxly-elsewhere-'));
    symlinkSync(elsewhere, join(base, 'link'));
    const { instance } = await create('link/sub/out.jsonl');
    await expect(instance.send([item('a')])).rejects.toThrow(/outside the base folder \(outbound\.fileBaseDirectory\)/);
    await expect(instance.healthcheck()).rejects.toThrow(ConfigurationError);
    await instance.close();
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  test('a symbolic link as the file itself is refused, and its target is left as it was', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'muxly-elsewhere-'));
    writeFileSync(join(elsewhere, '.bashrc'), 'original\n');
    symlinkSync(join(elsewhere, '.bashrc'), join(base, 'events.jsonl'));
    const { instance } = await create('events.jsonl');
    await expect(instance.send([item('a')])).rejects.toThrow(/outside the base folder/);
    await instance.close();
    expect(readFileSync(join(elsewhere, '.bashrc'), 'utf8')).toBe('original\n');
  });

  test('a symbolic link that stays inside is followed; the health check creates folders only inside', async () => {
    mkdirSync(join(base, 'real'));
    symlinkSync(join(base, 'real'), join(base, 'alias'));
    const { instance } = await create('alias/day/out.jsonl');
    await instance.healthcheck();
    await instance.send([item('a')]);
    await instance.close();
    expect(readFileSync(join(base, 'real', 'day', 'out.jsonl'), 'utf8')).toContain('"id":"a"');
  });

  test('rotation by size keeps the rotated files beside the current one', async () => {
    const { instance } = await createDestination(
      { id: 'f', type: 'file', enabled: true, config: { path: 'deep/out.jsonl', rotateBytes: 1, fsync: false } },
      context,
    );
    for (const id of ['a', 'b', 'c']) await instance.send([item(id)]);
    await instance.close();
    expect(readdirSync(base)).toEqual(['deep']);
    expect(readdirSync(join(base, 'deep'))).toHaveLength(3);
  });

  test('the base folder is created when missing', async () => {
    context.outbound = { fileBaseDirectory: join(base, 'not-yet'), allowAddresses: [] };
    const { instance } = await create('out.jsonl');
    await instance.send([item('a')]);
    await instance.close();
    expect(existsSync(join(base, 'not-yet', 'out.jsonl'))).toBe(true);
  });
});

test('destinations a rule routes the same events to share one batch of lines; a rule that transforms differently gets its own', async () => {
  const rule = (id: string, destinationIds: string[], tag: string) => ({
    id,
    priority: 100,
    enabled: true,
    stopOnMatch: false,
    destinationIds,
    transformations: [{ type: 'set' as const, path: '$.tag', value: tag }],
  });
  const table = RoutingTable.compile([rule('same', ['a', 'b'], 'same'), rule('other', ['c'], 'other')]);
  const batches: Record<string, DeliveryItem[]> = { a: [], b: [], c: [] };
  for (const id of ['e1', 'e2', 'e3']) {
    const decisions = table.route({ id, name: 'n', value: 1 }, ['a', 'b', 'c']);
    for (const [destination, decision] of decisions) {
      if (decision.routed !== true) throw new Error(`${destination} not routed`);
      batches[destination]!.push({ ...item(id), event: decision.event });
    }
  }
  // The same event objects in the same order: one buffer, joined once.
  expect(jsonLines(batches.a!)).toBe(jsonLines(batches.b!));
  expect(jsonLines(batches.c!)).not.toBe(jsonLines(batches.a!));
  // The same first event in a shorter batch: its own bytes, not the longer batch's.
  expect(jsonLines(batches.a!.slice(0, 2)).toString()).toBe(
    jsonLines(batches.a!).toString().split('\n').slice(0, 2).join('\n') + '\n',
  );

  const tags: Record<string, string[]> = {};
  for (const destination of ['a', 'b', 'c']) {
    const path = `${destination}.jsonl`;
    const { instance } = await createDestination(
      { id: destination, type: 'file', enabled: true, config: { path } },
      context,
    );
    await instance.send(batches[destination]!);
    await instance.send(batches[destination]!.slice(1));
    await instance.close();
    tags[destination] = readFileSync(join(base, path), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const event = JSON.parse(line) as { id: string; tag: string };
        return `${event.id}:${event.tag}`;
      });
  }
  expect(tags).toEqual({
    a: ['e1:same', 'e2:same', 'e3:same', 'e2:same', 'e3:same'],
    b: ['e1:same', 'e2:same', 'e3:same', 'e2:same', 'e3:same'],
    c: ['e1:other', 'e2:other', 'e3:other', 'e2:other', 'e3:other'],
  });
});
