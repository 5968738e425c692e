#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ApiClient, CliError } from './api-client.ts';
import { printTable, type Column } from './table.ts';

// `npx muxly`: the operator's tools over the control-plane API (docs/operations.md).
// MUXLY_URL (default http://127.0.0.1:8081) and MUXLY_TOKEN (an access token or an API key).

const USAGE = `usage: muxly <command> [options]   (--json for scripts)

  dlq list     [--stage S] [--destination ID] [--error-class C] [--status open|resolved|all] [--from T] [--to T] [--limit N]
  dlq show     <id>
  dlq resolve  <id>... | --destination ID [--error-class C] [--stage S] [--from T] [--to T]
  dlq replay   <id>... | --destination ID [...filters]   (waits and shows progress; --no-wait to return at once)
  destinations backfill <id> --from T [--to T]   (the events of that range again, to this destination only; progress as a replay)
  rules dry-run (--rule-id ID | --condition JSON [--transformations JSON] [--destinations a,b]) (--last N | --from T [--to T])
  tap          --name X [--source S] [--dimension key=value]...   (follows it live: raw, event, each destination's outcome; Ctrl-C stops)

environment: MUXLY_URL (default http://127.0.0.1:8081), MUXLY_TOKEN (access token or API key)`;

const OPTIONS = {
  json: { type: 'boolean' },
  stage: { type: 'string' },
  destination: { type: 'string' },
  'error-class': { type: 'string' },
  status: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  'no-wait': { type: 'boolean' },
  'rule-id': { type: 'string' },
  condition: { type: 'string' },
  transformations: { type: 'string' },
  destinations: { type: 'string' },
  last: { type: 'string' },
  name: { type: 'string' },
  source: { type: 'string' },
  dimension: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const DEAD_LETTER_COLUMNS: Column[] = [
  { title: 'ID', value: (row) => row.id },
  { title: 'WRITTEN', value: (row) => row.writtenAt },
  { title: 'STAGE', value: (row) => row.stage },
  { title: 'DESTINATION', value: (row) => row.destinationId ?? '' },
  { title: 'ERROR', value: (row) => row.errorClass },
  { title: 'TRIES', value: (row) => row.attempts },
  { title: 'STATUS', value: (row) => row.status },
  { title: 'MESSAGE', value: (row) => String(row.errorMessage).slice(0, 60) },
];

function filterOf(values: Values): Record<string, string> {
  const filter: Record<string, string | undefined> = {
    stage: values.stage,
    destinationId: values.destination,
    errorClass: values['error-class'],
    status: values.status,
    from: values.from,
    to: values.to,
  };
  return Object.fromEntries(
    Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function selectionOf(ids: string[], values: Values): Record<string, unknown> {
  if (ids.length > 0) return { ids };
  const filter = filterOf(values);
  if (Object.keys(filter).length === 0)
    throw new CliError('give dead-letter ids or a filter (--destination, --error-class, --stage, --from, --to)');
  return { filter };
}

const parseJson = (name: string, text: string | undefined): unknown => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`--${name} is not JSON`);
  }
};

/** One line per stage for people: when, what, and the essentials of it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- stream events are printed, not typed
type Printed = Record<string, any>;
function describeTapEvent(stage: string, data: Printed): string {
  const time = new Date().toISOString().slice(11, 23);
  const dimensions = (value: unknown) =>
    value && typeof value === 'object'
      ? `{${Object.entries(value)
          .map(([key, one]) => `${key}=${String(one)}`)
          .join(',')}}`
      : '';
  switch (stage) {
    case 'raw':
      return `${time} raw       ${data.source?.type}/${data.source?.id} ${data.format}: ${data.items
        .map(
          (item: Record<string, unknown>) =>
            `${String(item.name)}=${String(item.value ?? '')} ${dimensions(item.dimensions)} id=${String(item.id ?? '')}`,
        )
        .join(
          '; ',
        )}${data.matchingItems > data.items.length ? ` (+${data.matchingItems - data.items.length} more)` : ''}`;
    case 'event':
      return `${time} event     ${data.event.id} ${data.event.name}=${String(data.event.value ?? '')}${data.event.unit ? ` ${data.event.unit}` : ''} ${dimensions(data.event.dimensions)} (partition ${data.partition}, offset ${data.offset})`;
    case 'delivery':
      return `${time} ${String(data.outcome).padEnd(9)} ${data.eventId} → ${data.destinationId}${data.ruleId ? ` by rule ${data.ruleId}` : ''}${data.attempts ? ` (attempt ${data.attempts})` : ''}${data.error ? `: ${data.error}` : ''}`;
    case 'dropped':
      return `${time} dropped   ${data.count} (${data.reason})`;
    default:
      return `${time} ${stage} ${JSON.stringify(data)}`;
  }
}

async function tap(api: ApiClient, values: Values): Promise<void> {
  const query = new URLSearchParams();
  if (values.name) query.set('name', values.name);
  if (values.source) query.set('source', values.source);
  for (const dimension of values.dimension ?? []) query.append('dimension', dimension);
  if ([...query.keys()].length === 0)
    throw new CliError('give what to follow: --name, --source or --dimension key=value');
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await api.stream(
    `/api/v1/tap?${query}`,
    (stage, data) => {
      if (values.json) return void console.log(JSON.stringify({ stage, data }));
      if (stage === 'ready') return void console.error(`following ${query.toString()} (Ctrl-C to stop)`);
      console.log(describeTapEvent(stage, data as Printed));
      if (stage === 'error') process.exitCode = 1;
    },
    stop.signal,
  );
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [group, command, ...rest] = positionals;
  if (values.help || !group) return void console.log(USAGE);
  const api = ApiClient.fromEnvironment(process.env);
  const out = (value: unknown, human: () => void) =>
    values.json ? console.log(JSON.stringify(value, null, 2)) : human();

  if (group === 'dlq' && command === 'list') {
    const query = new URLSearchParams({ ...filterOf(values), limit: values.limit ?? '50' });
    const page = await api.request('GET', `/api/v1/dead-letters?${query}`);
    return out(page, () => {
      printTable(DEAD_LETTER_COLUMNS, page.items);
      if (page.nextCursor) console.log(`(more: the API's cursor is ${page.nextCursor})`);
    });
  }
  if (group === 'dlq' && command === 'show') {
    if (!rest[0]) throw new CliError('usage: muxly dlq show <id>');
    const letter = await api.request('GET', `/api/v1/dead-letters/${encodeURIComponent(rest[0])}`);
    return out(letter, () => {
      printTable(DEAD_LETTER_COLUMNS, [letter]);
      console.log(`\nmessage: ${letter.errorMessage}\nbody (${letter.body.encoding}):`);
      console.log(letter.body.value !== undefined ? JSON.stringify(letter.body.value, null, 2) : letter.body.base64);
    });
  }
  if (group === 'dlq' && command === 'resolve') {
    const answer = await api.request('POST', '/api/v1/dead-letters/resolve', selectionOf(rest, values));
    return out(answer, () => console.log(`${answer.resolved} dead letter(s) resolved`));
  }
  const isBackfill = group === 'destinations' && command === 'backfill';
  if ((group === 'dlq' && command === 'replay') || isBackfill) {
    if (isBackfill && (!rest[0] || !values.from))
      throw new CliError('usage: muxly destinations backfill <id> --from T [--to T]');
    let replay = isBackfill
      ? await api.request('POST', `/api/v1/destinations/${encodeURIComponent(rest[0]!)}/backfill`, {
          from: values.from,
          ...(values.to ? { to: values.to } : {}),
        })
      : await api.request('POST', '/api/v1/dead-letters/replay', selectionOf(rest, values));
    const progress = () => {
      const p = replay.progress;
      return `${replay.id} ${replay.status}: ${p.published}/${p.total} sent, ${p.delivered} delivered, ${p.deadLettered} failed again, ${p.filtered} filtered, ${p.skipped} skipped`;
    };
    if (!values['no-wait']) {
      while (replay.status === 'running') {
        if (!values.json) process.stderr.write(`\r${progress()}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        replay = await api.request('GET', `/api/v1/replays/${replay.id}`);
      }
      if (!values.json) process.stderr.write('\n');
    }
    out(replay, () => console.log(progress() + (replay.error ? ` (${replay.error})` : '')));
    if (replay.status === 'failed') process.exitCode = 1;
    return;
  }
  if (group === 'rules' && command === 'dry-run') {
    const window = values.last ? { lastEvents: Number(values.last) } : { from: values.from, to: values.to };
    if (!values.last && !values.from) throw new CliError('give the window: --last N, or --from T [--to T]');
    const rule = {
      condition: parseJson('condition', values.condition),
      transformations: parseJson('transformations', values.transformations),
      destinationIds: values.destinations?.split(',').filter(Boolean),
    };
    const definedRule = Object.fromEntries(Object.entries(rule).filter(([, value]) => value !== undefined));
    const answer = await api.request('POST', '/api/v1/routing-rules/dry-run', {
      ...(values['rule-id'] ? { ruleId: values['rule-id'] } : {}),
      ...(Object.keys(definedRule).length > 0 ? { rule: definedRule } : {}),
      window,
    });
    return out(answer, () => {
      console.log(`${answer.matched} of ${answer.scanned} events match (${answer.failed} failed in a transformation)`);
      printTable(
        [
          { title: 'DESTINATION', value: (row) => row.destinationId },
          { title: 'MATCHED', value: (row) => row.matched },
        ],
        answer.perDestination,
      );
      for (const sample of answer.samples) console.log(`\n${sample.eventId}: ${JSON.stringify(sample.after)}`);
    });
  }
  if (group === 'tap') return tap(api, values);
  throw new CliError(`unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
}

run(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof CliError || error instanceof TypeError ? error.message : String(error));
  process.exitCode = 2;
});
