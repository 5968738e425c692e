// Replays and delivery reports: internal topics between the control plane and the router.
//
// `muxly.replay`: a dead letter of the router sent again to its own destination. The value is the
// dead letter's body (the encoded event); the DLQ headers naming the original topic, partition and
// offset are copied, plus the headers below. Only the named destination delivers it.
//
// `muxly.deliveries`: compact JSON reports of what the router did with an event for a
// destination (replay progress, the live tap). Reading them never affects delivery. A replay's
// reports carry `replayId` and are part of its progress; the others (every live delivery outcome)
// are for the tap only and are best-effort (the router may drop them under pressure).

export const REPLAY_HEADERS = {
  destinationId: 'muxly.destination.id',
  replayId: 'muxly.replay.id',
  deadLetterId: 'muxly.dead-letter.id',
} as const;

/** `retrying` and `skipped` (the route's onFailure: continue) come from live delivery only. */
export type DeliveryOutcome = 'delivered' | 'dead-lettered' | 'filtered' | 'retrying' | 'skipped';

export interface DeliveryReport {
  destinationId: string;
  /** The unified event's id (absent when the bytes were not an event). */
  eventId?: string;
  outcome: DeliveryOutcome;
  /** The rule that routed it (delivered or dead-lettered after routing). */
  ruleId?: string;
  /** Why it was dead-lettered, skipped or is retried. */
  error?: string;
  /** Delivery attempts so far (live reports). */
  attempts?: number;
  replayId?: string;
  deadLetterId?: string;
  at: string;
}
