import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, createLogger } from '@muxly/common';
import { Registry } from 'prom-client';
import { createDestination } from '../create.ts';
import type { DeliveryItem } from '../destination.ts';

const context = {
  destinationId: 'file',
  log: createLogger({ service: 'test', silent: true }),
  metrics: new Registry(),
  signal: new AbortController().signal,
};
const item = (id: string, extra: Record<string, unknown> = {}): DeliveryItem => ({
  id,
  event: { id, name: 'n', value: 1, dimensions: { env: 'prod' }, ...extra },
  topic: 't',
  partition: 0,
  offset: '0',
});

test('writes JSON lines, appending across batches and reopenings', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'muxly-file-')), 'nested', 'out.jsonl');
  const first = await createDestination({ id: 'f', type: 'file', enabled: true, config: { path } }, context);
  await first.instance.send([item('a'), item('b')]);
  await first.instance.close();
  const second = await createDestination({ id: 'f', type: 'file', enabled: true, config: { path } }, context);
  await second.instance.send([item('c')]);
  await second.instance.close();
  expect(
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { id: string }).id),
  ).toEqual(['a', 'b', 'c']);
});

test('writes CSV with a header and quoted fields', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'muxly-file-')), 'out.csv');
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
  expect(readFileSync(path, 'utf8')).toBe('id,dimensions.env,note\na,prod,"says ""hi"", twice"\nb,prod,\n');
});

test('rotates by size, keeping every line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'muxly-file-'));
  const path = join(dir, 'out.jsonl');
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
    createDestination({ id: 'f', type: 'file', enabled: true, config: { path: '/tmp/x', colour: 'red' } }, context),
  ).rejects.toThrow(/destinations\.f\.config\.colour is not a known field/);
  await expect(
    createDestination({ id: 'f', type: 'file', enabled: true, config: { format: 'csv' } }, context),
  ).rejects.toThrow(ConfigurationError);
  await expect(createDestination({ id: 'f', type: 'nope', enabled: true, config: {} }, context)).rejects.toThrow(
    /unknown type "nope"/,
  );
});

test('rotates by time; a rotated CSV file keeps its header and the new one starts with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'muxly-file-'));
  const path = join(dir, 'out.csv');
  const { instance } = await createDestination(
    {
      id: 'f',
      type: 'file',
      enabled: true,
      config: { path, format: 'csv', csvColumns: ['id'], rotateIntervalSeconds: 1 },
    },
    context,
  );
  await instance.send([item('a')]);
  await instance.send([item('b')]);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await instance.send([item('c')]);
  await instance.close();
  const rotated = readdirSync(dir).filter((file) => file !== 'out.csv');
  expect(rotated).toHaveLength(1);
  expect(rotated[0]).toMatch(/^out\.csv\.\d{4}-\d{2}-\d{2}T/);
  expect(readFileSync(join(dir, rotated[0]!), 'utf8')).toBe('id\na\nb\n');
  expect(readFileSync(path, 'utf8')).toBe('id\nc\n');
});

test('rotation never overwrites an earlier rotated file, even several per millisecond', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'muxly-file-'));
  const path = join(dir, 'out.jsonl');
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
