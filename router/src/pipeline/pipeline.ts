import { ConfigurationError } from '@muxly/common';
import { compileRules, RuleCompileError, type RuleEvaluator } from '@muxly/schemas';
import type { Static } from '@sinclair/typebox';
import type { DestinationDefinition as DestinationSchema, RoutingRuleDefinition as RuleSchema } from '@muxly/schemas';

export type DestinationDefinition = Static<typeof DestinationSchema>;
export type RoutingRuleDefinition = Static<typeof RuleSchema>;

export interface PipelineDefinition {
  destinations: DestinationDefinition[];
  rules: RoutingRuleDefinition[];
}

interface CompiledRule {
  id: string;
  stopOnMatch: boolean;
  destinationIds: ReadonlySet<string>;
  evaluate: RuleEvaluator;
}

export type RouteDecision = { routed: true; event: Record<string, unknown> } | { routed: false };

/**
 * The routing rules compiled once, in evaluation order: ascending priority (a lower number is
 * evaluated first), then id for a stable order. For an event, rules are evaluated in that order
 * until one with stopOnMatch matches; a destination receives the event as transformed by the
 * FIRST matching rule that names it, and nothing if no matching rule names it (filtered).
 */
export class RoutingTable {
  readonly #rules: CompiledRule[];

  private constructor(rules: CompiledRule[]) {
    this.#rules = rules;
  }

  static compile(definitions: readonly RoutingRuleDefinition[], knownDestinations?: ReadonlySet<string>): RoutingTable {
    const enabled = definitions.filter((rule) => rule.enabled).sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));
    const problems: string[] = [];
    if (knownDestinations) {
      for (const rule of enabled) {
        for (const id of rule.destinationIds) if (!knownDestinations.has(id)) problems.push(`rules.${rule.id}.destinationIds: unknown destination "${id}"`);
      }
    }
    let evaluators: RuleEvaluator[] = [];
    try {
      evaluators = compileRules(enabled, 'rules');
    } catch (error) {
      if (!(error instanceof RuleCompileError)) throw error;
      problems.push(...error.problems.map((problem) => problem.replace(/^rules\[(\d+)\]/, (_, index: string) => `rules.${enabled[Number(index)]?.id ?? index}`)));
    }
    if (problems.length > 0) throw new ConfigurationError('Invalid routing rules', problems);
    return new RoutingTable(
      enabled.map((rule, index) => ({ id: rule.id, stopOnMatch: rule.stopOnMatch, destinationIds: new Set(rule.destinationIds), evaluate: evaluators[index]! })),
    );
  }

  decide(event: Record<string, unknown>, destinationId: string): RouteDecision {
    for (const rule of this.#rules) {
      const names = rule.destinationIds.has(destinationId);
      // A rule that does not name this destination matters only if it would stop the search.
      if (!names && !rule.stopOnMatch) continue;
      const result = rule.evaluate(event);
      if (!result.matched) continue;
      if (names) return { routed: true, event: result.event };
      return { routed: false };
    }
    return { routed: false };
  }
}
