import type { Kafka } from 'kafkajs';
import { errorMessage, laneIsRunning, type Logger } from '@muxly/common';
import { ApiProblem } from '../http/problem.ts';

// Where a destination starts reading `muxly.events`. Its delivered position is the committed
// offsets of its own consumer group (`<router.groupIdPrefix><destination id>`), so choosing a
// start is writing that group's offsets before the router starts the destination's worker.
// A group with no committed offsets would start at the earliest retained event (a week of
// history sent to a new Slack channel), hence `now` by default for a new destination.

export type StartFrom = 'now' | 'earliest' | string;

export interface DestinationPositions {
  groupIdOf(destinationId: string): string;
  /** Whether the group still holds committed offsets (a destination deleted within its grace period). */
  hasPosition(destinationId: string): Promise<boolean>;
  /** Whether a router is delivering the destination now (its lane's fresh "running" marker). */
  isRunning(destinationId: string): Promise<boolean>;
  /** Writes the group's offsets; refused (409) while a worker of the destination is running. */
  startFrom(destinationId: string, startFrom: StartFrom): Promise<Record<string, string>>;
  /** Deletes the group of a deleted destination once its worker left it. */
  forget(destinationId: string): Promise<boolean>;
}

export function destinationPositions(options: {
  kafka: Kafka;
  eventsTopic: string;
  groupIdPrefix: string;
  logger: Logger;
}): DestinationPositions {
  const { kafka, eventsTopic, logger } = options;
  const groupIdOf = (destinationId: string) => `${options.groupIdPrefix}${destinationId}`;

  const withAdmin = async <T>(work: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  };

  /**
   * NOTE: routers commit a destination's offsets without joining its group, so an empty group
   * does not mean a stopped destination: the offsets' metadata says whether a lane holds them
   * (common/src/kafka/lane-marker.ts). Members are still checked (a consumer of another tool).
   */
  const running = async (admin: ReturnType<Kafka['admin']>, groupId: string): Promise<string | undefined> => {
    const described = await admin.describeGroups([groupId]);
    const members = described.groups[0]?.members.length ?? 0;
    if (members > 0) return `its consumer group has ${members} member(s)`;
    const [topic] = await admin.fetchOffsets({ groupId, topics: [eventsTopic] });
    if (laneIsRunning((topic?.partitions ?? []).map((partition) => partition.metadata)))
      return 'a router is delivering it';
    return undefined;
  };

  return {
    groupIdOf,
    async isRunning(destinationId) {
      return withAdmin(async (admin) => (await running(admin, groupIdOf(destinationId))) !== undefined);
    },
    async hasPosition(destinationId) {
      return withAdmin(async (admin) => {
        const [topic] = await admin.fetchOffsets({ groupId: groupIdOf(destinationId), topics: [eventsTopic] });
        return (topic?.partitions ?? []).some((partition) => BigInt(partition.offset) >= 0n);
      });
    },
    async startFrom(destinationId, startFrom) {
      const groupId = groupIdOf(destinationId);
      return withAdmin(async (admin) => {
        const why = await running(admin, groupId);
        if (why)
          throw new ApiProblem(
            409,
            'destination-running',
            `destination "${destinationId}" is still being delivered (${why}); disable it, wait a few seconds and try again`,
          );
        const ends = await admin.fetchTopicOffsets(eventsTopic);
        let partitions: { partition: number; offset: string }[];
        if (startFrom === 'now' || startFrom === 'earliest') {
          partitions = ends.map((end) => ({
            partition: end.partition,
            offset: startFrom === 'now' ? end.high : end.low,
          }));
        } else {
          const at = Date.parse(startFrom);
          const found = await admin.fetchTopicOffsetsByTimestamp(eventsTopic, at);
          const highOf = new Map(ends.map((end) => [end.partition, end.high]));
          // NOTE: a partition with no event at or after the time answers -1: start at its end.
          partitions = found.map((one) => ({
            partition: one.partition,
            offset: BigInt(one.offset) < 0n ? (highOf.get(one.partition) ?? '0') : one.offset,
          }));
        }
        await admin.setOffsets({ groupId, topic: eventsTopic, partitions });
        logger.info('destination start position written', {
          destination: destinationId,
          groupId,
          startFrom,
          partitions,
        });
        return Object.fromEntries(partitions.map((one) => [String(one.partition), one.offset]));
      }).catch((error: unknown) => {
        if (error instanceof ApiProblem) throw error;
        throw new ApiProblem(
          503,
          'kafka-unavailable',
          `the start position of destination "${destinationId}" could not be written: ${errorMessage(error)}`,
        );
      });
    },
    async forget(destinationId) {
      const groupId = groupIdOf(destinationId);
      return withAdmin(async (admin) => {
        const described = await admin.describeGroups([groupId]);
        const group = described.groups[0];
        if (!group || group.state === 'Dead') return true;
        if ((await running(admin, groupId)) !== undefined) return false;
        await admin.deleteGroups([groupId]);
        logger.info('consumer group of a deleted destination removed', { destination: destinationId, groupId });
        return true;
      });
    },
  };
}

/**
 * After a destination was deleted: waits out the grace period, then removes its consumer group
 * once the router's worker left it (so lag monitors stop alerting on it), unless the destination
 * was created again meanwhile (it then resumes from the kept position).
 * NOTE: in memory only; a control-plane restart during the wait leaves the group (harmless, and
 * removable with the Kafka tools).
 */
export function forgetLater(
  positions: DestinationPositions,
  destinationId: string,
  options: { graceSeconds: number; exists: () => Promise<boolean>; logger: Logger; attempts?: number },
): void {
  let attempt = 0;
  const tryOnce = async () => {
    attempt += 1;
    if (await options.exists()) return;
    if (await positions.forget(destinationId)) return;
    if (attempt < (options.attempts ?? 30)) schedule(2_000);
    else
      options.logger.warn('consumer group of a deleted destination kept: its worker never left', {
        destination: destinationId,
      });
  };
  const schedule = (delayMs: number) => {
    setTimeout(() => {
      tryOnce().catch((error: unknown) => {
        options.logger.warn('removing the consumer group of a deleted destination failed', {
          destination: destinationId,
          error: errorMessage(error),
        });
        if (attempt < (options.attempts ?? 30)) schedule(5_000);
      });
    }, delayMs).unref();
  };
  schedule(Math.max(options.graceSeconds * 1000, 1_000));
}
