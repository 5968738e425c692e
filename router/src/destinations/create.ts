import { compileConfigValidator, ConfigurationError } from '@muxly/common';
import type { DestinationDefinition } from '../pipeline/pipeline.ts';
import type { DestinationContext, DestinationInstance, DestinationPlugin } from './destination.ts';
import { destinationPlugin } from './registry.ts';

const validators = new WeakMap<object, (value: unknown) => string[]>();

/** Validates a destination's config against its type's schema (filling defaults) and creates it. */
export async function createDestination(
  definition: DestinationDefinition,
  context: DestinationContext,
): Promise<{ plugin: DestinationPlugin<unknown>; instance: DestinationInstance }> {
  const plugin = destinationPlugin(definition.type);
  if (!plugin) throw new ConfigurationError(`Destination ${definition.id} has an unknown type "${definition.type}"`);
  let validate = validators.get(plugin.configSchema);
  if (!validate)
    validators.set(plugin.configSchema, (validate = compileConfigValidator(plugin.configSchema, 'config')));
  const config = structuredClone(definition.config);
  const problems = validate(config);
  if (problems.length > 0) {
    throw new ConfigurationError(
      `Invalid configuration of destination ${definition.id}`,
      problems.map((problem) => `destinations.${definition.id}.${problem}`),
    );
  }
  return { plugin, instance: await plugin.create(config, context) };
}
