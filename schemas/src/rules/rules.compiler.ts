import { compileCondition, type Predicate } from './conditions.ts';
import { describe, isPlainObject, Problems } from './problems.ts';
import { compileTransformation, type Document, type Transform } from './transformations.ts';

export type RuleResult = { matched: false } | { matched: true; event: Document };
export type RuleEvaluator = (event: unknown) => RuleResult;

const NO_MATCH: RuleResult = Object.freeze({ matched: false });

/**
 * Compiles a rule's condition and transformations into one closure, once; evaluation never looks
 * at the definition again. Throws RuleCompileError naming every invalid place (e.g.
 * `rules[2].condition.all[1].op: unknown operator "eqq"`). Fields other than `condition` and
 * `transformations` (name, priority, destinationIds…) belong to the caller and are ignored.
 *
 * The input event is never modified: a rule with transformations copies what it changes
 * (copy-on-write); the unchanged parts of its result are shared with the input, read-only.
 */
export function compileRule(definition: unknown, place = 'rule'): RuleEvaluator {
  const problems = new Problems();
  const evaluator = compileRuleInto(definition, place, problems);
  problems.throwIfAny();
  return evaluator;
}

/** The problems of a definition, empty when it compiles (for validation on save). */
export function validateRule(definition: unknown, place = 'rule'): string[] {
  const problems = new Problems();
  compileRuleInto(definition, place, problems);
  return problems.list;
}

/** Compiles a list of rules; places read `rules[2].condition…`. Throws with every problem of every rule. */
export function compileRules(definitions: readonly unknown[], place = 'rules'): RuleEvaluator[] {
  const problems = new Problems();
  const evaluators = definitions.map((definition, index) =>
    compileRuleInto(definition, `${place}[${index}]`, problems),
  );
  problems.throwIfAny();
  return evaluators;
}

function compileRuleInto(definition: unknown, place: string, problems: Problems): RuleEvaluator {
  if (!isPlainObject(definition)) {
    problems.add(place, `a rule must be an object, not ${describe(definition)}`);
    return () => NO_MATCH;
  }
  const matches: Predicate | undefined =
    definition.condition === undefined || definition.condition === null
      ? undefined
      : compileCondition(definition.condition, `${place}.condition`, problems);

  const list = definition.transformations ?? [];
  let transforms: Transform[] = [];
  if (!Array.isArray(list)) problems.add(`${place}.transformations`, `must be an array, not ${describe(list)}`);
  else
    transforms = list.map((item, index) => compileTransformation(item, `${place}.transformations[${index}]`, problems));

  const transform = chain(transforms);
  if (!transform) {
    return matches
      ? (event) => (matches(event) ? { matched: true, event: event as Document } : NO_MATCH)
      : (event) => ({ matched: true, event: event as Document });
  }
  return (event) => {
    if (matches && !matches(event)) return NO_MATCH;
    // Copy-on-write: only the root is copied here; transformations copy what they change.
    const root: Document = isPlainObject(event) ? { ...event } : {};
    return { matched: true, event: transform(root, new Set<object>([root])) };
  };
}

function chain(transforms: Transform[]): Transform | undefined {
  if (transforms.length === 0) return undefined;
  if (transforms.length === 1) return transforms[0];
  return (document, owned) => {
    let current = document;
    for (const transform of transforms) current = transform(current, owned);
    return current;
  };
}
