import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiProblem } from '../http/problem.ts';
import type { IndexedDeadLetter } from './record.ts';

// SQL for the dead-letter index. Plain SQL: inserts must be idempotent per DLQ position (ON
// CONFLICT DO NOTHING) and a selection (ids, or a filter) is one WHERE clause shared by list,
// resolve, replay and the summary.

type Sql = Pick<EntityManager, 'execute'>;
const rows = <T>(em: Sql, query: string, params: unknown[] = []) => em.execute<T[]>(query, params, 'all');

export interface DeadLetterRow {
  id: string;
  dlq_partition: number;
  dlq_offset: string;
  stage: string;
  destination_id: string | null;
  error_class: string;
  error_message: string;
  attempts: number;
  first_failed_at: Date | null;
  written_at: Date;
  original_topic: string | null;
  original_partition: number | null;
  original_offset: string | null;
  original_index: number | null;
  event_id: string | null;
  record_key: Buffer | null;
  body: Buffer;
  headers: Record<string, string>;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: string | null;
  replay_id: string | null;
}

/** Raw SQL answers timestamps as strings or dates depending on the driver path: one rendering. */
export const isoOf = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);

export type DeadLetterStatus = 'open' | 'resolved' | 'all';

export interface DeadLetterFilter {
  stage?: string | undefined;
  destinationId?: string | undefined;
  errorClass?: string | undefined;
  /** written at or after */
  from?: Date | undefined;
  /** written before */
  to?: Date | undefined;
  status?: DeadLetterStatus | undefined;
}

/** A selection: explicit ids, or a filter (then only open dead letters unless the filter says otherwise). */
export interface Selection {
  ids?: string[] | undefined;
  filter?: DeadLetterFilter | undefined;
}

function whereOf(selection: Selection): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (selection.ids) {
    // As JSON: an array parameter would be expanded into a list by the query builder.
    clauses.push('id in (select jsonb_array_elements_text(?::jsonb))');
    params.push(JSON.stringify(selection.ids));
  }
  const filter = selection.filter ?? (selection.ids ? { status: 'all' as const } : {});
  const add = (clause: string, value: unknown) => {
    clauses.push(clause);
    params.push(value);
  };
  if (filter.stage) add('stage = ?', filter.stage);
  if (filter.destinationId) add('destination_id = ?', filter.destinationId);
  if (filter.errorClass) add('error_class = ?', filter.errorClass);
  if (filter.from) add('written_at >= ?', filter.from);
  if (filter.to) add('written_at < ?', filter.to);
  const status = filter.status ?? 'open';
  if (status === 'open') clauses.push('resolved_at is null');
  if (status === 'resolved') clauses.push('resolved_at is not null');
  return { sql: clauses.length > 0 ? clauses.join(' and ') : 'true', params };
}

/** Indexes a chunk of DLQ records; a record already indexed (same partition and offset) is skipped. */
export async function insertDeadLetters(em: Sql, letters: IndexedDeadLetter[]): Promise<number> {
  if (letters.length === 0) return 0;
  const columns =
    'id, dlq_partition, dlq_offset, stage, destination_id, error_class, error_message, attempts, first_failed_at, ' +
    'written_at, original_topic, original_partition, original_offset, original_index, event_id, record_key, body, headers';
  const placeholders = letters.map(() => `(${new Array(17).fill('?').join(', ')}, ?::jsonb)`).join(', ');
  const params = letters.flatMap((letter) => [
    letter.id,
    letter.dlqPartition,
    letter.dlqOffset,
    letter.stage,
    letter.destinationId,
    letter.errorClass,
    letter.errorMessage,
    letter.attempts,
    letter.firstFailedAt,
    letter.writtenAt,
    letter.originalTopic,
    letter.originalPartition,
    letter.originalOffset,
    letter.originalIndex,
    letter.eventId,
    letter.recordKey,
    letter.body,
    JSON.stringify(letter.headers),
  ]);
  const inserted = await rows<{ id: string }>(
    em,
    `insert into dead_letters (${columns}) values ${placeholders} on conflict do nothing returning id`,
    params,
  );
  return inserted.length;
}

const LIST_COLUMNS =
  'id, stage, destination_id, error_class, error_message, attempts, first_failed_at, written_at, original_topic, ' +
  'original_partition, original_offset, original_index, event_id, resolved_at, resolved_by, resolution, replay_id, dlq_partition, dlq_offset';

interface CursorData {
  writtenAt: string;
  id: string;
  sort: string;
}

function encodeCursor(sort: string, row: { written_at: Date; id: string }): string {
  const data: CursorData = { sort, writtenAt: new Date(row.written_at).toISOString(), id: row.id };
  return Buffer.from(JSON.stringify(data)).toString('base64url');
}

function decodeCursor(cursor: string, sort: string): CursorData {
  try {
    const data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorData;
    if (typeof data.id === 'string' && typeof data.writtenAt === 'string' && data.sort === sort) return data;
  } catch {
    // answered below
  }
  throw new ApiProblem(400, 'invalid-cursor', 'the cursor is not one this API produced for this sort');
}

/** A page of dead letters, newest first by default; keyset paging on (written_at, id). */
export async function listDeadLetters(
  em: Sql,
  filter: DeadLetterFilter,
  page: { limit: number; cursor?: string | undefined; sort: '-writtenAt' | 'writtenAt' },
): Promise<{ rows: DeadLetterRow[]; nextCursor: string | null }> {
  const where = whereOf({ filter });
  const descending = page.sort === '-writtenAt';
  let after = '';
  const params = [...where.params];
  if (page.cursor) {
    const cursor = decodeCursor(page.cursor, page.sort);
    after = ` and (written_at, id) ${descending ? '<' : '>'} (?, ?)`;
    params.push(new Date(cursor.writtenAt), cursor.id);
  }
  const direction = descending ? 'desc' : 'asc';
  const found = await rows<DeadLetterRow>(
    em,
    `select ${LIST_COLUMNS} from dead_letters where ${where.sql}${after}
     order by written_at ${direction}, id ${direction} limit ${page.limit + 1}`,
    params,
  );
  const more = found.length > page.limit;
  const items = more ? found.slice(0, page.limit) : found;
  const last = items.at(-1);
  return { rows: items, nextCursor: more && last ? encodeCursor(page.sort, last) : null };
}

export async function getDeadLetter(em: Sql, id: string): Promise<DeadLetterRow | null> {
  const found = await rows<DeadLetterRow>(em, `select * from dead_letters where id = ?`, [id]);
  return found[0] ?? null;
}

export interface SummaryGroup {
  stage: string;
  destination_id: string | null;
  error_class: string;
  count: string;
  oldest: Date;
  newest: Date;
}

export async function summarize(em: Sql, filter: DeadLetterFilter): Promise<SummaryGroup[]> {
  const where = whereOf({ filter });
  return rows<SummaryGroup>(
    em,
    `select stage, destination_id, error_class, count(*) as count, min(written_at) as oldest, max(written_at) as newest
     from dead_letters where ${where.sql}
     group by stage, destination_id, error_class
     order by count(*) desc, stage, destination_id, error_class`,
    where.params,
  );
}

/** Marks the open dead letters of a selection handled; returns how many changed. */
export async function resolveSelection(
  em: Sql,
  selection: Selection,
  by: string,
  resolution: 'resolved' | 'replayed',
  replayId: string | null = null,
): Promise<number> {
  const where = whereOf(selection);
  const changed = await rows<{ id: string }>(
    em,
    `update dead_letters set resolved_at = now(), resolved_by = ?, resolution = ?, replay_id = coalesce(?, replay_id)
     where ${where.sql} and resolved_at is null returning id`,
    [by, resolution, replayId, ...where.params],
  );
  return changed.length;
}

/** Deletes dead letters written before `before` (the retention); returns how many. */
export async function purgeBefore(em: Sql, before: Date): Promise<number> {
  const deleted = await rows<{ id: string }>(em, `delete from dead_letters where written_at < ? returning id`, [
    before,
  ]);
  return deleted.length;
}

/** Open dead letters per stage and destination: the "waiting" metric. */
export async function waitingCounts(
  em: Sql,
): Promise<{ stage: string; destination_id: string | null; count: string }[]> {
  return rows(
    em,
    `select stage, destination_id, count(*) as count from dead_letters where resolved_at is null group by stage, destination_id`,
  );
}

/** The rows of a selection, for a replay, in DLQ order (oldest first). */
export async function selectForReplay(em: Sql, selection: Selection, limit: number): Promise<DeadLetterRow[]> {
  const where = whereOf(selection);
  return rows<DeadLetterRow>(
    em,
    `select * from dead_letters where ${where.sql} order by written_at, id limit ${limit + 1}`,
    where.params,
  );
}
