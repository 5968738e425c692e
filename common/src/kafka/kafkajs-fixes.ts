import { createRequire } from 'node:module';

interface RequestQueuePrototype {
  pending: unknown[];
  scheduleCheckPendingRequests(this: RequestQueuePrototype): void;
}

/**
 * NOTE: kafkajs 2.2.4's request queue, each time it has sent what was pending, schedules its next
 * check in `throttledUntil - Date.now()` ms even when nothing is pending and no broker throttles
 * (`throttledUntil` is then -1): a negative delay, which Node 24 reports as a
 * TimeoutNegativeWarning and runs after 1 ms, doing nothing. With nothing pending there is nothing
 * to check (queueing a request schedules a check again), so only that case is skipped; the
 * throttled and the pending cases behave exactly as in kafkajs.
 */
export function skipIdleRequestQueueChecks(): void {
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueuePrototype };
  const schedule = RequestQueue.prototype.scheduleCheckPendingRequests;
  if ((schedule as { muxlyPatched?: boolean }).muxlyPatched) return;
  const patched = function (this: RequestQueuePrototype) {
    if (this.pending.length === 0) return;
    schedule.call(this);
  };
  RequestQueue.prototype.scheduleCheckPendingRequests = Object.assign(patched, { muxlyPatched: true });
}
