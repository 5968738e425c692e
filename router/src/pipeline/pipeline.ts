import { ConfigurationError } from '@muxly/common';
import { compileRules, ROUTE_FAILURE_POLICIES, RuleCompileError, type RuleEvaluator } from '@muxly/schemas';
import type { Static } from '@sinclair/typebox';
import type {
  DestinationDefinition as DestinationSchema,
  RouteDefinition as RouteSchema,
  RoutingRuleDefinition as RuleSchema,
} from '@muxly/schemas';

export type DestinationDefinition = Static<typeof DestinationSchema>;
export type RoutingRuleDefinition = Static<typeof RuleSchema>;
export type RouteDefinition = Static<typeof RouteSchema>;
export type FailurePolicy = (typeof ROUTE_FAILURE_POLICIES)[number];

export interface PipelineDefinition {
  destinations: DestinationDefinition[];
  rules: RoutingRuleDefinition[];
  /** Absent or empty: every enabled rule applies to every source. */
  routes?: RouteDefinition[] | undefined;
}

interface CompiledRule {
  id: string;
  stopOnMatch: boolean;
  destinationIds: ReadonlySet<string>;
  evaluate: RuleEvaluator;
}

/** The rules that apply to the events of one source, and what to do when delivering fails. */
interface SourcePlan {
  rules: CompiledRule[];
  /** Rule id → the failure policy of the routes that tie this source to it (absent: dead-letter). */
  policies: ReadonlyMap<string, FailurePolicy>;
}

export type RouteDecision =
  | { routed: true; event: Record<string, unknown>; ruleId: string; onFailure: FailurePolicy }
  | { routed: false }
  | { routed: 'error'; error: unknown; ruleId: string; onFailure: FailurePolicy };

/** When several routes tie a source to one rule, the most careful policy wins. */
const STRICTNESS: Record<FailurePolicy, number> = { continue: 0, 'dead-letter': 1, stop: 2 };
const API_SOURCE = '\u0000api';
const NOT_ROUTED: RouteDecision = { routed: false };

/** The route key of an event: its connector id, or the ingest API (connectorId null). */
function sourceKeyOf(event: Record<string, unknown>): string | undefined {
  const source = event.source;
  if (source === null || typeof source !== 'object') return undefined;
  const { type, id } = source as { type?: unknown; id?: unknown };
  if (type === 'api') return API_SOURCE;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The routing rules compiled once, in evaluation order: ascending priority (a lower number is
 * evaluated first), then id for a stable order. For an event, rules are evaluated in that order
 * until one with stopOnMatch matches; a destination receives the event as transformed by the
 * FIRST matching rule that names it, and nothing if no matching rule names it (filtered).
 *
 * Routes scope rules to sources: a rule that an enabled route lists applies only to the events of
 * that route's source (a connector, or the ingest API); a rule no route lists applies to every
 * source. A route's errorHandling.onFailure says what happens to an event one of its rules
 * routed when it cannot be delivered.
 */
export class RoutingTable {
  readonly #plans: ReadonlyMap<string, SourcePlan>;
  /** Sources no route names: the rules no route lists. */
  readonly #unrouted: SourcePlan;

  private constructor(plans: ReadonlyMap<string, SourcePlan>, unrouted: SourcePlan) {
    this.#plans = plans;
    this.#unrouted = unrouted;
  }

  static compile(
    definitions: readonly RoutingRuleDefinition[],
    knownDestinations?: ReadonlySet<string>,
    routes: readonly RouteDefinition[] = [],
  ): RoutingTable {
    const enabled = definitions
      .filter((rule) => rule.enabled)
      .sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));
    const problems: string[] = [];
    if (knownDestinations) {
      for (const rule of enabled) {
        for (const id of rule.destinationIds)
          if (!knownDestinations.has(id)) problems.push(`rules.${rule.id}.destinationIds: unknown destination "${id}"`);
      }
    }
    const knownRules = new Set(definitions.map((rule) => rule.id));
    const enabledRoutes = routes.filter((route) => route.enabled);
    for (const route of enabledRoutes) {
      route.ruleIds.forEach((id, index) => {
        if (!knownRules.has(id)) problems.push(`routes.${route.id}.ruleIds[${index}]: unknown rule "${id}"`);
      });
      const policy = route.errorHandling?.onFailure ?? 'dead-letter';
      if (!ROUTE_FAILURE_POLICIES.includes(policy)) {
        problems.push(
          `routes.${route.id}.errorHandling.onFailure: unknown policy ${JSON.stringify(policy)} (one of ${ROUTE_FAILURE_POLICIES.join(', ')})`,
        );
      }
    }
    let evaluators: RuleEvaluator[] = [];
    try {
      evaluators = compileRules(enabled, 'rules');
    } catch (error) {
      if (!(error instanceof RuleCompileError)) throw error;
      problems.push(
        ...error.problems.map((problem) =>
          problem.replace(/^rules\[(\d+)\]/, (_, index: string) => `rules.${enabled[Number(index)]?.id ?? index}`),
        ),
      );
    }
    if (problems.length > 0) throw new ConfigurationError('Invalid routing rules', problems);

    const compiled = enabled.map((rule, index) => ({
      id: rule.id,
      stopOnMatch: rule.stopOnMatch,
      destinationIds: new Set(rule.destinationIds),
      evaluate: evaluators[index]!,
    }));
    const routed = new Set(enabledRoutes.flatMap((route) => route.ruleIds));
    const unrouted: SourcePlan = { rules: compiled.filter((rule) => !routed.has(rule.id)), policies: new Map() };

    const policiesBySource = new Map<string, Map<string, FailurePolicy>>();
    for (const route of enabledRoutes) {
      const key = route.connectorId ?? API_SOURCE;
      const policy = route.errorHandling?.onFailure ?? 'dead-letter';
      let policies = policiesBySource.get(key);
      if (!policies) policiesBySource.set(key, (policies = new Map()));
      for (const id of route.ruleIds) {
        const current = policies.get(id);
        if (current === undefined || STRICTNESS[policy] > STRICTNESS[current]) policies.set(id, policy);
      }
    }
    const plans = new Map<string, SourcePlan>();
    for (const [key, policies] of policiesBySource) {
      plans.set(key, { rules: compiled.filter((rule) => !routed.has(rule.id) || policies.has(rule.id)), policies });
    }
    return new RoutingTable(plans, unrouted);
  }

  /**
   * The decision for every one of `destinationIds` at once, each rule evaluated at most once: the
   * same answers as decide() per destination (a router instance routes each event once, however
   * many destinations it serves). The routed event object is shared by the destinations a rule
   * names: destinations must not mutate it.
   */
  route(event: Record<string, unknown>, destinationIds: readonly string[]): Map<string, RouteDecision> {
    const decisions = new Map<string, RouteDecision>();
    const key = sourceKeyOf(event);
    const plan = (key !== undefined && this.#plans.get(key)) || this.#unrouted;
    let undecided = destinationIds.length;
    for (const rule of plan.rules) {
      if (undecided === 0) break;
      // As in decide(): a rule matters to the destinations it names, and to all if it would stop.
      let concerned: string[] | undefined;
      for (const id of destinationIds)
        if (!decisions.has(id) && (rule.stopOnMatch || rule.destinationIds.has(id))) (concerned ??= []).push(id);
      if (!concerned) continue;
      const onFailure = plan.policies.get(rule.id) ?? 'dead-letter';
      let result;
      try {
        result = rule.evaluate(event);
      } catch (error) {
        for (const id of concerned) decisions.set(id, { routed: 'error', error, ruleId: rule.id, onFailure });
        undecided -= concerned.length;
        continue;
      }
      if (!result.matched) continue;
      const routed: RouteDecision = { routed: true, event: result.event, ruleId: rule.id, onFailure };
      for (const id of concerned) decisions.set(id, rule.destinationIds.has(id) ? routed : NOT_ROUTED);
      undecided -= concerned.length;
    }
    if (undecided > 0) for (const id of destinationIds) if (!decisions.has(id)) decisions.set(id, NOT_ROUTED);
    return decisions;
  }

  /** NOTE: a rule whose transformation throws on this event yields `routed: 'error'`, never a throw. */
  decide(event: Record<string, unknown>, destinationId: string): RouteDecision {
    const key = sourceKeyOf(event);
    const plan = (key !== undefined && this.#plans.get(key)) || this.#unrouted;
    for (const rule of plan.rules) {
      const names = rule.destinationIds.has(destinationId);
      // A rule that does not name this destination matters only if it would stop the search.
      if (!names && !rule.stopOnMatch) continue;
      let result;
      try {
        result = rule.evaluate(event);
      } catch (error) {
        return { routed: 'error', error, ruleId: rule.id, onFailure: plan.policies.get(rule.id) ?? 'dead-letter' };
      }
      if (!result.matched) continue;
      if (names)
        return {
          routed: true,
          event: result.event,
          ruleId: rule.id,
          onFailure: plan.policies.get(rule.id) ?? 'dead-letter',
        };
      return { routed: false };
    }
    return { routed: false };
  }
}
