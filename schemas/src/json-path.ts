// Muxly's one JSONPath dialect, used by routing rules, destinations and connectors. A deliberately
// small subset, parsed by hand (a user's path is never evaluated as code):
//   $                          the document
//   .name  ['name']  ["name"]  a field (a quoted name may hold any character; \ escapes)
//   [3]                        an array element, zero-based
//   [-1]                       counting from the end       (selectors only)
//   [*]  .*                    every element or value       (selectors only)
// A path names one place (rules read and write it); a selector may select several values (a
// connector's record selector and field paths). Filters, scripts, slices and recursive descent
// are refused everywhere. Paths are parsed once and turned into closures; nothing here runs per
// event except the returned getters, so a rule's cost never depends on the event's size.

/** One step of a path: a field name or a non-negative array index. */
export type PathSegment = string | number;

/** The wildcard step of a selector: every element of an array, or every value of an object. */
const EVERY = Symbol('every value');

/** One step of a selector: a path step, a negative index (from the end), or a wildcard. */
export type SelectorSegment = PathSegment | typeof EVERY;

/** Thrown by parsePath and parseSelector; the caller prefixes it with the place in the config. */
export class PathSyntaxError extends Error {
  override name = 'PathSyntaxError';
}

// NOTE: these keys would let a `set` or `rename` reach Object.prototype (prototype pollution) and
// make getters see inherited members; they are refused in every path.
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);
const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$-]*/y;
const INDEX = /(-?)(0|[1-9][0-9]{0,8})\]/y;

/** Parses a path that names one place: no wildcards, no negative indexes. */
export function parsePath(path: unknown): PathSegment[] {
  return parse(path, false) as PathSegment[];
}

/** Parses a selector: a path that may also count from the end and fan out with wildcards. */
export function parseSelector(path: unknown): SelectorSegment[] {
  return parse(path, true);
}

function parse(path: unknown, selector: boolean): SelectorSegment[] {
  if (typeof path !== 'string') throw new PathSyntaxError('a path must be a string such as "$.name"');
  if (!path.startsWith('$')) throw new PathSyntaxError(`path "${path}" must start with "$"`);
  const segments: SelectorSegment[] = [];
  const onlyInSelectors = (what: string, position: number): never => {
    throw new PathSyntaxError(
      `${what} at position ${position} in "${path}" is not supported here: this path names one field (wildcards and negative indexes are for connector selectors)`,
    );
  };
  let position = 1;
  while (position < path.length) {
    const char = path[position];
    if (char === '.') {
      if (path[position + 1] === '.') throw new PathSyntaxError(`recursive descent ".." is not supported in "${path}"`);
      if (path[position + 1] === '*') {
        if (!selector) onlyInSelectors('the wildcard ".*"', position);
        segments.push(EVERY);
        position += 2;
        continue;
      }
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
      } else if (path.startsWith('*]', position + 1)) {
        if (!selector) onlyInSelectors('the wildcard "[*]"', position);
        segments.push(EVERY);
        position += 3;
      } else {
        INDEX.lastIndex = position + 1;
        const match = INDEX.exec(path);
        if (!match)
          throw new PathSyntaxError(
            `expected a quoted name or an array index at position ${position + 1} in "${path}" (filters and slices are not supported)`,
          );
        const [, sign = '', digits = ''] = match;
        if (sign && !selector) onlyInSelectors(`the index "[-${digits}]"`, position);
        segments.push(Number(sign + digits));
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

/**
 * Every value a selector selects (wildcards fan out; a missing field selects nothing). A selector
 * without wildcards or negative indexes is a path, read with the same getter as rules.
 */
export function compileSelector(segments: readonly SelectorSegment[]): (root: unknown) => unknown[] {
  if (segments.every((segment) => typeof segment === 'string' || (typeof segment === 'number' && segment >= 0))) {
    const get = compileGetter(segments as PathSegment[]);
    return (root) => {
      const value = get(root);
      return value === undefined ? [] : [value];
    };
  }
  return (root) => {
    let current: unknown[] = [root];
    for (const segment of segments) {
      const next: unknown[] = [];
      for (const value of current) {
        if (value === null || typeof value !== 'object') continue;
        if (segment === EVERY) {
          next.push(...(Array.isArray(value) ? value : Object.values(value)));
        } else if (typeof segment === 'number' && segment < 0) {
          if (Array.isArray(value) && value.length + segment >= 0) next.push(value[value.length + segment]);
        } else {
          const child = (value as Record<PathSegment, unknown>)[segment];
          if (child !== undefined) next.push(child);
        }
      }
      current = next;
    }
    return current;
  };
}
