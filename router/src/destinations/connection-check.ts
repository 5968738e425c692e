import { Registry } from 'prom-client';
import { BlockedAddressError, createLogger, errorMessage, RefusedError } from '@muxly/common';
import { ACCESS_STEPS, type AccessStep, type CheckStep } from '@muxly/schemas';
import type { DestinationPlugin, HealthCheckProof } from './destination.ts';
import type { DestinationCheckOptions } from './templates.ts';

// The control plane's connection test of a destination, after its own resolve and connect steps:
// creates the destination from the effective config, runs its health check, and reports each
// access step with what the destination's folder says a passed check proves. Loaded only when a
// test runs, since creating a destination loads its client library.

/** Which step a failed health check fails: the one a refusal names, else the first the type proves. */
function failedStep(proof: HealthCheckProof, error: unknown): AccessStep {
  if (error instanceof RefusedError) return error.step;
  const code = (error as { code?: unknown }).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission';
  return ACCESS_STEPS.find((step) => 'proves' in proof[step]) ?? 'check';
}

const provenBy = (proof: HealthCheckProof, step: AccessStep): string | undefined => {
  const entry = proof[step];
  return 'proves' in entry ? entry.proves : undefined;
};

/** Creates the destination, asks its peer, and releases it. Never throws. */
export async function checkDestination(
  plugin: DestinationPlugin<never>,
  proof: HealthCheckProof,
  config: Record<string, unknown>,
  { signal, outbound, forbiddenDatabases }: DestinationCheckOptions,
): Promise<CheckStep[]> {
  let started = Date.now();
  const step = (name: CheckStep['name'], status: CheckStep['status'], detail: string): CheckStep => ({
    name,
    status,
    detail,
    durationMs: Date.now() - started,
  });
  const unproven = (name: AccessStep, otherwise: string): CheckStep => {
    const entry = proof[name];
    return step(name, 'skipped', 'unproven' in entry ? entry.unproven : otherwise);
  };
  let instance;
  try {
    instance = await plugin.create(config as never, {
      destinationId: `check-${plugin.type}`,
      log: createLogger({ service: 'router', silent: true }),
      metrics: new Registry(),
      signal,
      outbound,
      forbiddenDatabases,
    });
  } catch (error) {
    return [step('config', 'failed', errorMessage(error))];
  }
  const steps: CheckStep[] = [step('config', 'ok', 'the configuration is valid')];
  started = Date.now();
  try {
    await instance.healthcheck();
    for (const name of ACCESS_STEPS) {
      const proven = provenBy(proof, name);
      steps.push(proven ? step(name, 'ok', proven) : unproven(name, `the ${plugin.type} check does not test this`));
    }
  } catch (error) {
    if (error instanceof BlockedAddressError) {
      // The outbound address guard refused the peer's address: nothing left the host.
      steps.push(step('connect', 'failed', errorMessage(error)));
      for (const name of ACCESS_STEPS) steps.push(step(name, 'skipped', 'an earlier step failed'));
      return steps;
    }
    const failed = failedStep(proof, error);
    // A peer that answered with a refusal of a later step has accepted the credentials first.
    const authenticated =
      error instanceof RefusedError && failed !== 'authenticate' ? provenBy(proof, 'authenticate') : undefined;
    for (const name of ACCESS_STEPS) {
      const position = ACCESS_STEPS.indexOf(name) - ACCESS_STEPS.indexOf(failed);
      if (position === 0) steps.push(step(name, 'failed', errorMessage(error)));
      else if (position > 0) steps.push(step(name, 'skipped', 'an earlier step failed'));
      else if (name === 'authenticate' && authenticated) steps.push(step(name, 'ok', authenticated));
      else steps.push(unproven(name, 'not tested before the failure'));
    }
  } finally {
    await instance.close().catch(() => undefined);
  }
  return steps;
}
