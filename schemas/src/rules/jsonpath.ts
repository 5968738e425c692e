// A deliberately small JSONPath subset for rules: `$`, `$.a.b`, `$.a['x-y']`, `$["a"]`, `$.arr[0]`.
// Paths are parsed once when a rule is compiled and turned into closures; nothing here runs per
// event except the returned getters and setters. Wildcards, filters and recursive descent are
// refused: they would make a rule's cost depend on the event's size.

export type PathSegment = string | number;

/** Thrown by parsePath; the caller prefixes it with the place in the rule. */
export class PathSyntaxError extends Error {
  override name = 'PathSyntaxError';
}

// NOTE: these keys would let a `set` or `rename` reach Object.prototype (prototype pollution) and
// make getters see inherited members; they are refused in every path.
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);
const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const INDEX = /(0|[1-9][0-9]{0,8})\]/y;

export function parsePath(path: unknown): PathSegment[] {
  if (typeof path !== 'string') throw new PathSyntaxError('a path must be a string such as "$.name"');
  if (!path.startsWith('$')) throw new PathSyntaxError(`path "${path}" must start with "$"`);
  const segments: PathSegment[] = [];
  let position = 1;
  while (position < path.length) {
    const char = path[position];
    if (char === '.') {
      if (path[position + 1] === '.') throw new PathSyntaxError(`recursive descent ".." is not supported in "${path}"`);
      IDENTIFIER.lastIndex = position + 1;
      const match = IDENTIFIER.exec(path);
      if (!match)
        throw new PathSyntaxError(
          `expected a field name after "." at position ${position + 1} in "${path}" (use $['name'] for other characters)`,
        );
      segments.push(match[0]);
      position = IDENTIFIER.lastIndex;
    } else if (char === '[') {
      const quote = path[position + 1];
      if (quote === "'" || quote === '"') {
        const { value, end } = readQuoted(path, position + 1, quote);
        if (path[end] !== ']') throw new PathSyntaxError(`expected "]" at position ${end} in "${path}"`);
        segments.push(value);
        position = end + 1;
      } else {
        INDEX.lastIndex = position + 1;
        const match = INDEX.exec(path);
        if (!match)
          throw new PathSyntaxError(
            `expected a quoted name or an array index at position ${position + 1} in "${path}" (wildcards and filters are not supported)`,
          );
        segments.push(Number(match[1]));
        position = INDEX.lastIndex;
      }
    } else {
      throw new PathSyntaxError(`unexpected "${char}" at position ${position} in "${path}"`);
    }
  }
  for (const segment of segments) {
    if (typeof segment === 'string' && FORBIDDEN_KEYS.has(segment))
      throw new PathSyntaxError(`field name "${segment}" is not allowed in "${path}"`);
  }
  return segments;
}

function readQuoted(path: string, start: number, quote: string): { value: string; end: number } {
  let value = '';
  let position = start + 1;
  while (position < path.length) {
    const char = path[position]!;
    if (char === '\\') {
      const next = path[position + 1];
      if (next === undefined) break;
      value += next;
      position += 2;
    } else if (char === quote) {
      return { value, end: position + 1 };
    } else {
      value += char;
      position += 1;
    }
  }
  throw new PathSyntaxError(`unterminated quoted name in "${path}"`);
}

export type Getter = (root: unknown) => unknown;

/** A getter closure specialised for short paths (the common case) to keep evaluation cheap. */
export function compileGetter(segments: readonly PathSegment[]): Getter {
  const [a, b, c] = segments;
  switch (segments.length) {
    case 0:
      return (root) => root;
    case 1:
      return (root) =>
        root !== null && typeof root === 'object' ? (root as Record<PathSegment, unknown>)[a!] : undefined;
    case 2:
      return (root) => {
        if (root === null || typeof root !== 'object') return undefined;
        const first = (root as Record<PathSegment, unknown>)[a!];
        return first !== null && typeof first === 'object' ? (first as Record<PathSegment, unknown>)[b!] : undefined;
      };
    case 3:
      return (root) => {
        if (root === null || typeof root !== 'object') return undefined;
        const first = (root as Record<PathSegment, unknown>)[a!];
        if (first === null || typeof first !== 'object') return undefined;
        const second = (first as Record<PathSegment, unknown>)[b!];
        return second !== null && typeof second === 'object' ? (second as Record<PathSegment, unknown>)[c!] : undefined;
      };
    default:
      return (root) => {
        let current = root;
        for (const segment of segments) {
          if (current === null || typeof current !== 'object') return undefined;
          current = (current as Record<PathSegment, unknown>)[segment];
        }
        return current;
      };
  }
}

/** True when the path resolves to an own property (a field set to null exists; a missing one does not). */
export function compileHas(segments: readonly PathSegment[]): (root: unknown) => boolean {
  if (segments.length === 0) return (root) => root !== undefined;
  const parent = compileGetter(segments.slice(0, -1));
  const last = segments[segments.length - 1]!;
  return (root) => {
    const container = parent(root);
    return container !== null && typeof container === 'object' && Object.hasOwn(container, last);
  };
}

/** Sets a value, creating intermediate objects (or arrays for numeric segments) as needed. */
export function compileSetter(
  segments: readonly PathSegment[],
): (root: Record<string, unknown>, value: unknown) => void {
  if (segments.length === 0) throw new PathSyntaxError('cannot assign to the root "$"');
  const last = segments[segments.length - 1]!;
  const parents = segments.slice(0, -1);
  return (root, value) => {
    let current: Record<PathSegment, unknown> = root;
    for (let index = 0; index < parents.length; index++) {
      const segment = parents[index]!;
      let next = current[segment];
      if (next === null || typeof next !== 'object') {
        next = typeof segments[index + 1] === 'number' ? [] : {};
        current[segment] = next;
      }
      current = next as Record<PathSegment, unknown>;
    }
    current[last] = value;
  };
}

/** Removes a field (or an array element, shifting the rest); missing paths are a no-op. */
export function compileRemover(segments: readonly PathSegment[]): (root: unknown) => void {
  if (segments.length === 0) throw new PathSyntaxError('cannot remove the root "$"');
  const parent = compileGetter(segments.slice(0, -1));
  const last = segments[segments.length - 1]!;
  return (root) => {
    const container = parent(root);
    if (container === null || typeof container !== 'object') return;
    if (Array.isArray(container) && typeof last === 'number') {
      if (last < container.length) container.splice(last, 1);
    } else {
      delete (container as Record<PathSegment, unknown>)[last];
    }
  };
}
