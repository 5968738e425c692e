import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import { waitingCounts } from './store.ts';

/**
 * `muxly_dead_letters_waiting{stage, destination}`: open (unresolved) dead letters, read from the
 * index when scraped. Labels stay bounded: stages are few, destinations are the configured ones.
 */
export function registerDeadLetterMetrics(registry: Registry, orm: MikroORM): void {
  new Gauge({
    name: 'muxly_dead_letters_waiting',
    help: 'Dead letters not resolved yet, per stage and destination (empty for the transformer).',
    labelNames: ['stage', 'destination'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await waitingCounts(orm.em.fork()))
        this.set({ stage: row.stage, destination: row.destination_id ?? '' }, Number(row.count));
    },
  });
}
