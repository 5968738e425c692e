import { errorMessage } from '@muxly/common';
import type { CheckResult, CheckStep } from '../connector.ts';

/**
 * Runs named check steps in order and stops at the first failure: a later step (read one row)
 * means nothing when an earlier one (authenticate) failed. Never throws.
 */
export async function runCheckSteps(steps: [name: string, run: () => Promise<string | void>][]): Promise<CheckResult> {
  const results: CheckStep[] = [];
  for (const [name, run] of steps) {
    try {
      const message = await run();
      results.push(message ? { name, ok: true, message } : { name, ok: true });
    } catch (error) {
      results.push({ name, ok: false, message: errorMessage(error) });
      return { ok: false, steps: results };
    }
  }
  return { ok: true, steps: results };
}
