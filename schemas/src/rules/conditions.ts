import { RE2JS } from 're2js';
import { compileGetter } from '../json-path.ts';
import { checkKeys, describe, isPlainObject, pathAt, type Problems } from './problems.ts';
import { COMPARISON_OPERATORS, type ComparisonOperator } from './rule.schema.ts';

export type Predicate = (event: unknown) => boolean;

const ALWAYS: Predicate = () => true;
const NEVER: Predicate = () => false;

const isScalar = (value: unknown): value is string | number | boolean | null =>
  value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/**
 * Compiles a condition into a predicate closure. Problems are recorded with their place; the
 * returned predicate is then a placeholder that is never used (the caller throws first).
 */
export function compileCondition(condition: unknown, place: string, problems: Problems): Predicate {
  if (!isPlainObject(condition)) {
    problems.add(
      place,
      `a condition must be an object with "all", "any", "not" or "path"/"op", not ${describe(condition)}`,
    );
    return NEVER;
  }
  if ('all' in condition || 'any' in condition) {
    const key = 'all' in condition ? 'all' : 'any';
    checkKeys(problems, place, condition, [key]);
    const children = condition[key];
    if (!Array.isArray(children)) {
      problems.add(`${place}.${key}`, 'must be an array of conditions');
      return NEVER;
    }
    const predicates = children.map((child, index) => compileCondition(child, `${place}.${key}[${index}]`, problems));
    return key === 'all' ? allOf(predicates) : anyOf(predicates);
  }
  if ('not' in condition) {
    checkKeys(problems, place, condition, ['not']);
    const inner = compileCondition(condition.not, `${place}.not`, problems);
    return (event) => !inner(event);
  }
  if ('path' in condition || 'op' in condition) return compileComparison(condition, place, problems);
  problems.add(place, 'a condition needs "all", "any", "not" or "path" and "op"');
  return NEVER;
}

// Specialised for small arities: a loop over a closure array costs more than direct calls.
function allOf(predicates: Predicate[]): Predicate {
  const [a, b, c] = predicates;
  if (predicates.length === 0) return ALWAYS;
  if (predicates.length === 1) return a!;
  if (predicates.length === 2) return (event) => a!(event) && b!(event);
  if (predicates.length === 3) return (event) => a!(event) && b!(event) && c!(event);
  return (event) => {
    for (const predicate of predicates) if (!predicate(event)) return false;
    return true;
  };
}

function anyOf(predicates: Predicate[]): Predicate {
  const [a, b, c] = predicates;
  if (predicates.length === 0) return NEVER;
  if (predicates.length === 1) return a!;
  if (predicates.length === 2) return (event) => a!(event) || b!(event);
  if (predicates.length === 3) return (event) => a!(event) || b!(event) || c!(event);
  return (event) => {
    for (const predicate of predicates) if (predicate(event)) return true;
    return false;
  };
}

function compileComparison(condition: Record<string, unknown>, place: string, problems: Problems): Predicate {
  const { op, value } = condition;
  const segments = pathAt(problems, `${place}.path`, condition.path);
  if (!COMPARISON_OPERATORS.includes(op as ComparisonOperator)) {
    problems.add(`${place}.op`, `unknown operator ${describe(op)} (one of ${COMPARISON_OPERATORS.join(', ')})`);
    return NEVER;
  }
  checkKeys(problems, place, condition, op === 'matches' ? ['path', 'op', 'value', 'flags'] : ['path', 'op', 'value']);
  if (!segments) return NEVER;
  const get = compileGetter(segments);
  const valuePlace = `${place}.value`;

  switch (op as ComparisonOperator) {
    case 'eq':
    case 'ne': {
      if (!isScalar(value)) {
        problems.add(
          valuePlace,
          `"${String(op)}" compares with a string, number, boolean or null, not ${describe(value)}`,
        );
        return NEVER;
      }
      // NOTE: a missing field is not equal to anything (not even null): `ne` is true for it.
      return op === 'eq' ? (event) => get(event) === value : (event) => get(event) !== value;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return compileOrdering(op as 'gt' | 'gte' | 'lt' | 'lte', get, value, valuePlace, problems);
    case 'in': {
      if (!Array.isArray(value) || !value.every(isScalar)) {
        problems.add(valuePlace, `"in" needs an array of strings, numbers, booleans or nulls, not ${describe(value)}`);
        return NEVER;
      }
      const members = new Set<unknown>(value);
      return (event) => members.has(get(event));
    }
    case 'exists': {
      if (value !== undefined && typeof value !== 'boolean') {
        problems.add(valuePlace, `"exists" takes true (the default) or false, not ${describe(value)}`);
        return NEVER;
      }
      // A field holding null counts as absent: JSON producers use null and omission interchangeably.
      return value === false
        ? (event) => {
            const actual = get(event);
            return actual === undefined || actual === null;
          }
        : (event) => {
            const actual = get(event);
            return actual !== undefined && actual !== null;
          };
    }
    case 'matches':
      return compileMatches(get, value, condition.flags, place, problems);
    case 'contains': {
      if (!isScalar(value)) {
        problems.add(valuePlace, `"contains" looks for a string, number, boolean or null, not ${describe(value)}`);
        return NEVER;
      }
      return (event) => {
        const actual = get(event);
        if (typeof actual === 'string') return typeof value === 'string' && actual.includes(value);
        return Array.isArray(actual) && actual.includes(value);
      };
    }
  }
}

function compileOrdering(
  op: 'gt' | 'gte' | 'lt' | 'lte',
  get: (event: unknown) => unknown,
  value: unknown,
  place: string,
  problems: Problems,
): Predicate {
  if (!(typeof value === 'number' && Number.isFinite(value)) && typeof value !== 'string') {
    problems.add(
      place,
      `"${op}" compares with a finite number or a string (e.g. an RFC 3339 time), not ${describe(value)}`,
    );
    return NEVER;
  }
  // Only values of the same type compare: "10" is neither greater nor less than 9.
  const type = typeof value;
  switch (op) {
    case 'gt':
      return (event) => {
        const actual = get(event);
        return typeof actual === type && (actual as number) > (value as number);
      };
    case 'gte':
      return (event) => {
        const actual = get(event);
        return typeof actual === type && (actual as number) >= (value as number);
      };
    case 'lt':
      return (event) => {
        const actual = get(event);
        return typeof actual === type && (actual as number) < (value as number);
      };
    case 'lte':
      return (event) => {
        const actual = get(event);
        return typeof actual === type && (actual as number) <= (value as number);
      };
  }
}

function compileMatches(
  get: (event: unknown) => unknown,
  pattern: unknown,
  flags: unknown,
  place: string,
  problems: Problems,
): Predicate {
  if (typeof pattern !== 'string' || pattern.length > 1000) {
    problems.add(
      `${place}.value`,
      `"matches" needs a regular expression string of at most 1000 characters, not ${describe(pattern)}`,
    );
    return NEVER;
  }
  // "g" and "y" are refused: they mean nothing for a yes/no test.
  if (flags !== undefined && (typeof flags !== 'string' || !/^[imsu]*$/.test(flags))) {
    problems.add(`${place}.flags`, `flags may only combine i, m, s and u, not ${describe(flags)}`);
    return NEVER;
  }
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern, re2Flags(flags as string | undefined));
  } catch (error) {
    // RE2 has no backreferences or lookarounds: those patterns are refused here, at save time.
    problems.add(
      `${place}.value`,
      `invalid regular expression for RE2 (no backreferences or lookarounds): ${(error as Error).message}`,
    );
    return NEVER;
  }
  // NOTE: RE2 runs in time linear in the input, so no pattern can stall the router's event loop
  // (`^(a+)+$` backtracks exponentially in JavaScript's engine). The input cap bounds the linear
  // term too: a longer string never matches.
  return (event) => {
    const actual = get(event);
    return typeof actual === 'string' && actual.length <= MATCHES_MAX_INPUT && regex.test(actual);
  };
}

/** Strings longer than this (in UTF-16 code units) never match a `matches` condition. */
export const MATCHES_MAX_INPUT = 65_536;

// RE2 is always Unicode-aware, so "u" needs no flag of its own.
function re2Flags(flags: string | undefined): number {
  let result = 0;
  if (flags?.includes('i')) result |= RE2JS.CASE_INSENSITIVE;
  if (flags?.includes('m')) result |= RE2JS.MULTILINE;
  if (flags?.includes('s')) result |= RE2JS.DOTALL;
  return result;
}
