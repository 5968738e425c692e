// How the control plane tells whether a router is delivering a destination right now. A
// destination's position is its own consumer group's committed offsets, written by the router
// WITHOUT being a member of the group (partition-access.ts), so the group's membership says
// nothing. Instead each commit carries a marker in Kafka's offset metadata: the lane that holds
// the partition commits "running" at least once per commit interval (even without progress) and
// "stopped" when it lets the partition go. The control plane reads the markers with an offset
// fetch and refuses to move a position (or delete the group) while one is running and fresh.

const PREFIX = 'muxly-lane:';

export type LaneState = 'running' | 'stopped';

export const laneMarker = (state: LaneState, at = Date.now()): string => `${PREFIX}${state}:${at}`;

/** The marker in an offset's metadata, if a router lane wrote one. */
export function parseLaneMarker(metadata: string | null | undefined): { state: LaneState; at: number } | undefined {
  if (!metadata?.startsWith(PREFIX)) return undefined;
  const [state, at] = metadata.slice(PREFIX.length).split(':');
  if ((state !== 'running' && state !== 'stopped') || !Number.isFinite(Number(at))) return undefined;
  return { state, at: Number(at) };
}

/**
 * A "running" marker older than this means the lane's router is gone (crashed, or cut off from
 * Kafka): lanes refresh it every commit interval (1 s), so this leaves room for a slow commit
 * and for clock differences between the router and the control plane.
 */
export const LANE_MARKER_FRESH_MS = 15_000;

export function laneIsRunning(metadata: readonly (string | null | undefined)[], now = Date.now()): boolean {
  return metadata.some((one) => {
    const marker = parseLaneMarker(one);
    return marker?.state === 'running' && now - marker.at < LANE_MARKER_FRESH_MS;
  });
}
