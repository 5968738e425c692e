import { parsePath, PathSyntaxError, type PathSegment } from '../json-path.ts';

/** A rule that cannot be compiled; `problems` name each place, e.g. `rules[2].condition.all[1].op: …`. */
export class RuleCompileError extends Error {
  override name = 'RuleCompileError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? `Invalid rule: ${problems[0]}` : `Invalid rule:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** Collects every problem of a definition so one save reports them all, not one at a time. */
export class Problems {
  readonly list: string[] = [];
  add(place: string, message: string): void {
    this.list.push(`${place}: ${message}`);
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new RuleCompileError(this.list);
  }
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Parses a path, recording a problem (and returning undefined) when it is invalid. */
export function pathAt(problems: Problems, place: string, value: unknown): PathSegment[] | undefined {
  try {
    return parsePath(value);
  } catch (error) {
    if (error instanceof PathSyntaxError) {
      problems.add(place, error.message);
      return undefined;
    }
    throw error;
  }
}

/** Records every key of `object` that is not in `allowed`: a typo must not pass silently. */
export function checkKeys(
  problems: Problems,
  place: string,
  object: Record<string, unknown>,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) problems.add(`${place}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

export const describe = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));
