import { Migration } from '@mikro-orm/migrations';

// Dead letters indexed from the DLQ topic (docs/operations.md), and replays (jobs that send a
// selection of them again).
// - dead_letters: one row per DLQ record. NOTE: the unique (dlq_partition, dlq_offset) makes the
//   indexer idempotent: a chunk read again after a crash inserts nothing twice.
//   The body is kept here (bytea) so a dead letter can be shown and replayed after the topic's
//   own retention; rows are purged after controlPlane.deadLetters.retentionDays.
// - replays: a replay's selection, who asked, and its progress (published, then what the router
//   reported for each record: delivered, dead-lettered again, filtered).
export class Migration20261202000300DeadLetters extends Migration {
  override name = 'Migration20261202000300_dead_letters';

  override up(): void {
    this.addSql(`create table if not exists dead_letters (
      id text primary key,
      dlq_partition integer not null,
      dlq_offset bigint not null,
      stage text not null,
      destination_id text,
      error_class text not null,
      error_message text not null,
      attempts integer not null,
      first_failed_at timestamptz,
      written_at timestamptz not null,
      original_topic text,
      original_partition integer,
      original_offset text,
      original_index integer,
      event_id text,
      record_key bytea,
      body bytea not null,
      headers jsonb not null,
      resolved_at timestamptz,
      resolved_by text,
      resolution text,
      replay_id text,
      indexed_at timestamptz not null default now())`);
    this.addSql(
      `create unique index if not exists dead_letters_position_uq on dead_letters (dlq_partition, dlq_offset)`,
    );
    this.addSql(`create index if not exists dead_letters_written_idx on dead_letters (written_at desc, id desc)`);
    this.addSql(
      `create index if not exists dead_letters_open_idx on dead_letters (stage, destination_id) where resolved_at is null`,
    );
    this.addSql(`create table if not exists replays (
      id text primary key,
      kind text not null,
      status text not null,
      selection jsonb not null,
      requested_by text not null,
      total integer not null default 0,
      published integer not null default 0,
      expected_reports integer not null default 0,
      skipped integer not null default 0,
      delivered integer not null default 0,
      dead_lettered integer not null default 0,
      filtered integer not null default 0,
      error text,
      created_at timestamptz not null default now(),
      ended_at timestamptz)`);
    this.addSql(`create index if not exists replays_created_idx on replays (created_at desc, id desc)`);
    // One report per (replay, dead letter): a report read twice counts once.
    this.addSql(`create table if not exists replay_outcomes (
      replay_id text not null references replays (id) on delete cascade,
      dead_letter_id text not null,
      outcome text not null,
      reported_at timestamptz not null default now(),
      primary key (replay_id, dead_letter_id))`);
  }

  override down(): void {
    this.addSql(`drop table if exists replay_outcomes`);
    this.addSql(`drop table if exists replays`);
    this.addSql(`drop table if exists dead_letters`);
  }
}
