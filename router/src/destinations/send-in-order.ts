import { PermanentError, RetryableError } from '@muxly/common';
import type { DeliveryItem, SendResult } from './destination.ts';

export interface SendInOrderOptions {
  /** Names the peer in the error of a send cut short by a stop (`Slack: stopping`). */
  peer: string;
  /** Aborted when the router stops or the destination is removed: nothing more is sent. */
  signal: AbortSignal;
  /** Items per request (a webhook's batchSize); 1 sends each event alone. */
  chunkSize?: number;
  /**
   * Sends one chunk. Throws the error already mapped to the router's classes: a PermanentError
   * fails this chunk alone, anything else stops the batch here.
   */
  sendChunk(chunk: DeliveryItem[]): Promise<void>;
}

/**
 * Sends a batch one request at a time, in order, for peers that take one message per request
 * (an email, a Slack message, a webhook call). A chunk the peer refuses for good is reported
 * failed and the next is sent; a transient failure (an outage, a rate limit, a refused
 * configuration) stops the batch there, since it holds for the rest too.
 *
 * NOTE: what was sent before a failure counts as delivered and the later chunks come back as
 * `notSent`, so a retry sends nobody a duplicate message and dead-letters nothing untried.
 */
export async function sendInOrder(
  batch: readonly DeliveryItem[],
  options: SendInOrderOptions,
): Promise<SendResult | void> {
  const chunkSize = options.chunkSize ?? 1;
  const failures: { index: number; error: Error }[] = [];
  for (let start = 0; start < batch.length; start += chunkSize) {
    const chunk = batch.slice(start, start + chunkSize);
    const indexes = chunk.map((_, offset) => start + offset);
    if (options.signal.aborted)
      return stoppedAt(indexes, new RetryableError(`${options.peer}: stopping`), batch.length, failures);
    try {
      await options.sendChunk(chunk);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (failure instanceof PermanentError) {
        for (const index of indexes) failures.push({ index, error: failure });
        continue;
      }
      return stoppedAt(indexes, failure, batch.length, failures);
    }
  }
  return failures.length > 0 ? { failures } : undefined;
}

/**
 * The answer of a send that stopped at the `failed` chunk on a transient error: that chunk failed,
 * the later ones were not sent. Throws the error when that chunk is the whole batch.
 */
function stoppedAt(
  failed: number[],
  error: Error,
  batchLength: number,
  earlier: { index: number; error: Error }[],
): SendResult {
  if (earlier.length === 0 && failed.length === batchLength) throw error;
  const next = failed[failed.length - 1]! + 1;
  return {
    failures: [...earlier, ...failed.map((index) => ({ index, error }))],
    notSent: Array.from({ length: batchLength - next }, (_, offset) => next + offset),
  };
}
