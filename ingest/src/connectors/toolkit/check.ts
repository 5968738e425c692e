import { BlockedAddressError, errorMessage, RefusedError } from '@muxly/common';
import { ACCESS_STEPS, type AccessStep } from '@muxly/schemas';
import type { CheckResult, CheckStep } from '../connector.ts';

// How the built-in connectors build their connection check (`POST /connectors/{id}/test`): a
// few real requests ("probes"), each proving one step of the standard sequence
// authenticate → permission → check. The steps a connector reports use these names, so the
// control plane can show where a connection breaks.

const ORDER = ACCESS_STEPS;

export interface Probe {
  /** The step this probe proves when it succeeds; the steps before it are proven with it. */
  step: AccessStep;
  /**
   * Makes the request. Answers the step's message, or messages for several steps (one request
   * often proves more than one: a dry-run query proves both the access and the query).
   */
  run(): Promise<string | Partial<Record<AccessStep, string>>>;
}

/**
 * Runs the probes in order and reports every step once. A RefusedError names the step that failed
 * whichever probe met it (a 401 during the query is an authentication failure, and a 403 proves
 * the credentials were accepted); any other error (unreachable, 5xx, rate limited) fails the first
 * step not yet proven, since nothing after it was learned; an endpoint the outbound address guard
 * refuses fails `connect`. Never throws.
 */
export async function runProbes(peer: string, probes: readonly Probe[]): Promise<CheckResult> {
  const steps: CheckStep[] = [];
  const proven = new Set<AccessStep>();
  const implied: Record<AccessStep, string> = {
    authenticate: `${peer} accepted the credentials`,
    permission: `${peer} allowed the request`,
    check: `${peer} answered`,
  };
  const pass = (step: AccessStep, message: string, durationMs: number) => {
    if (proven.has(step)) return;
    proven.add(step);
    steps.push({ name: step, ok: true, message, durationMs });
  };
  const passUpTo = (
    step: AccessStep,
    messages: Partial<Record<AccessStep, string>>,
    durationMs: number,
    inclusive: boolean,
  ) => {
    const end = ORDER.indexOf(step) + (inclusive ? 1 : 0);
    for (const earlier of ORDER.slice(0, end)) pass(earlier, messages[earlier] ?? implied[earlier], durationMs);
  };
  for (const probe of probes) {
    const started = Date.now();
    try {
      const answer = await probe.run();
      const messages = typeof answer === 'string' ? { [probe.step]: answer } : answer;
      passUpTo(probe.step, messages, Date.now() - started, true);
    } catch (error) {
      const durationMs = Date.now() - started;
      if (error instanceof BlockedAddressError) {
        // The outbound address guard refused the endpoint: no request left the host.
        steps.push({ name: 'connect', ok: false, message: errorMessage(error), durationMs });
        return { ok: false, steps };
      }
      let failed: AccessStep;
      if (error instanceof RefusedError) {
        failed = error.step;
        // The peer answered with a refusal of this step: every step before it was passed.
        passUpTo(failed, {}, durationMs, false);
      } else {
        failed =
          ORDER.find((step) => !proven.has(step) && ORDER.indexOf(step) <= ORDER.indexOf(probe.step)) ?? probe.step;
      }
      // A step an earlier probe passed can still fail now (a token was issued, then the API
      // refused it): the failure replaces that verdict and what was inferred after it.
      const earlier = steps.findIndex((step) => step.name === failed);
      if (earlier >= 0) steps.splice(earlier);
      steps.push({ name: failed, ok: false, message: errorMessage(error), durationMs });
      return { ok: false, steps };
    }
  }
  return { ok: true, steps };
}

/** The retry policy of a check: one attempt, so a test answers in seconds, not after backoffs. */
export const CHECK_RETRY = { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 } as const;
