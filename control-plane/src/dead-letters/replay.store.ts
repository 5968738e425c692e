import type { EntityManager } from '@mikro-orm/postgresql';

// SQL for replays. Progress counters are recounted from replay_outcomes (one row per replay and
// dead letter), so a delivery report read twice changes nothing.

type Sql = Pick<EntityManager, 'execute'>;
const rows = <T>(em: Sql, query: string, params: unknown[] = []) => em.execute<T[]>(query, params, 'all');

export interface ReplayRow {
  id: string;
  kind: string;
  status: string;
  selection: Record<string, unknown>;
  requested_by: string;
  total: number;
  published: number;
  expected_reports: number;
  skipped: number;
  delivered: number;
  dead_lettered: number;
  filtered: number;
  error: string | null;
  created_at: Date;
  ended_at: Date | null;
}

export const OUTCOMES = ['delivered', 'dead-lettered', 'filtered'] as const;
export type ReplayOutcome = (typeof OUTCOMES)[number];

export async function insertReplay(
  em: Sql,
  replay: { id: string; kind: string; selection: unknown; requestedBy: string; total: number },
): Promise<ReplayRow> {
  const created = await rows<ReplayRow>(
    em,
    `insert into replays (id, kind, status, selection, requested_by, total) values (?, ?, 'running', ?::jsonb, ?, ?) returning *`,
    [replay.id, replay.kind, JSON.stringify(replay.selection), replay.requestedBy, replay.total],
  );
  return created[0]!;
}

export async function getReplay(em: Sql, id: string): Promise<ReplayRow | null> {
  return (await rows<ReplayRow>(em, `select * from replays where id = ?`, [id]))[0] ?? null;
}

export async function listReplays(
  em: Sql,
  page: { limit: number; before?: { createdAt: Date; id: string } | undefined },
): Promise<ReplayRow[]> {
  const after = page.before ? `where (created_at, id) < (?, ?)` : '';
  return rows<ReplayRow>(
    em,
    `select * from replays ${after} order by created_at desc, id desc limit ${page.limit + 1}`,
    page.before ? [page.before.createdAt, page.before.id] : [],
  );
}

/** Records what was published so far; a replay with nothing to wait for ends here. */
export async function recordPublished(
  em: Sql,
  id: string,
  counts: { published: number; expectedReports: number; skipped: number },
): Promise<void> {
  await em.execute(
    `update replays set published = ?, expected_reports = ?, skipped = ? where id = ?`,
    [counts.published, counts.expectedReports, counts.skipped, id],
    'run',
  );
  await finishIfComplete(em, id);
}

export async function failReplay(em: Sql, id: string, error: string): Promise<void> {
  await em.execute(
    `update replays set status = 'failed', error = ?, ended_at = now() where id = ? and status = 'running'`,
    [error, id],
    'run',
  );
}

/** Applies delivery reports of replayed records; returns the replays they touched. */
export async function recordOutcomes(
  em: Sql,
  reports: { replayId: string; deadLetterId: string; outcome: ReplayOutcome }[],
): Promise<string[]> {
  if (reports.length === 0) return [];
  const placeholders = reports.map(() => '(?, ?, ?)').join(', ');
  await em.execute(
    `insert into replay_outcomes (replay_id, dead_letter_id, outcome)
     select v.replay_id, v.dead_letter_id, v.outcome from (values ${placeholders}) as v (replay_id, dead_letter_id, outcome)
     where exists (select 1 from replays r where r.id = v.replay_id)
     on conflict do nothing`,
    reports.flatMap((report) => [report.replayId, report.deadLetterId, report.outcome]),
    'run',
  );
  const touched = [...new Set(reports.map((report) => report.replayId))];
  for (const id of touched) {
    await em.execute(
      `update replays r set
         delivered = (select count(*) from replay_outcomes o where o.replay_id = r.id and o.outcome = 'delivered'),
         dead_lettered = (select count(*) from replay_outcomes o where o.replay_id = r.id and o.outcome = 'dead-lettered'),
         filtered = (select count(*) from replay_outcomes o where o.replay_id = r.id and o.outcome = 'filtered')
       where r.id = ?`,
      [id],
      'run',
    );
    await finishIfComplete(em, id);
  }
  return touched;
}

/**
 * Ends a running replay once everything was published and every record sent to the router was
 * reported on: succeeded, or failed when some dead-lettered again (they are open dead letters then).
 */
async function finishIfComplete(em: Sql, id: string): Promise<void> {
  await em.execute(
    `update replays set
       status = case when dead_lettered > 0 then 'failed' else 'succeeded' end,
       error = case when dead_lettered > 0 then dead_lettered || ' dead-lettered again (listed as new dead letters)' else error end,
       ended_at = now()
     where id = ? and status = 'running' and published + skipped = total
       and delivered + dead_lettered + filtered >= expected_reports`,
    [id],
    'run',
  );
}
