import { ConfigurationError } from '@muxly/common';

// A small, safe subset of JSONPath for record selectors and field paths, parsed by hand so a
// user's path is never evaluated as code:
//   $                 the document
//   .name  ['name']   a member
//   [3]               an array element (negative counts from the end)
//   [*]  .*           every element of an array, or every value of an object
// Nothing else (no filters, no scripts, no recursive descent).

type Step = { kind: 'member'; name: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

export interface CompiledPath {
  source: string;
  /** Every value the path selects (wildcards fan out). */
  all(document: unknown): unknown[];
  /** The first value selected, or undefined. */
  first(document: unknown): unknown;
}

const cache = new Map<string, CompiledPath>();

export function compilePath(source: string): CompiledPath {
  const cached = cache.get(source);
  if (cached) return cached;
  const steps = parse(source);
  const compiled: CompiledPath = {
    source,
    all: (document) => evaluate(steps, document),
    first: (document) => evaluate(steps, document)[0],
  };
  if (cache.size < 1000) cache.set(source, compiled);
  return compiled;
}

function fail(source: string, position: number, reason: string): never {
  throw new ConfigurationError(`invalid path "${source}" at character ${position + 1}: ${reason}`);
}

function parse(source: string): Step[] {
  if (!source.startsWith('$')) fail(source, 0, 'a path starts with $');
  const steps: Step[] = [];
  let position = 1;
  while (position < source.length) {
    const char = source[position];
    if (char === '.') {
      if (source[position + 1] === '.') fail(source, position, 'recursive descent (..) is not supported');
      if (source[position + 1] === '*') {
        steps.push({ kind: 'wildcard' });
        position += 2;
        continue;
      }
      const match = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(source.slice(position + 1));
      if (!match) fail(source, position + 1, 'expected a member name');
      steps.push({ kind: 'member', name: match[0] });
      position += 1 + match[0].length;
    } else if (char === '[') {
      const close = source.indexOf(']', position);
      if (close === -1) fail(source, position, 'unclosed [');
      const inner = source.slice(position + 1, close).trim();
      if (inner === '*') steps.push({ kind: 'wildcard' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner))
        steps.push({ kind: 'member', name: inner.slice(1, -1) });
      else fail(source, position + 1, 'expected *, a number or a quoted name (filters are not supported)');
      position = close + 1;
    } else {
      fail(source, position, `unexpected "${char}"`);
    }
  }
  return steps;
}

function evaluate(steps: readonly Step[], document: unknown): unknown[] {
  let current: unknown[] = [document];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const value of current) {
      if (value === null || typeof value !== 'object') continue;
      if (step.kind === 'wildcard') {
        next.push(...(Array.isArray(value) ? value : Object.values(value)));
      } else if (step.kind === 'index') {
        if (!Array.isArray(value)) continue;
        const item = value[step.index < 0 ? value.length + step.index : step.index];
        if (item !== undefined) next.push(item);
      } else if (!Array.isArray(value) && Object.hasOwn(value, step.name)) {
        next.push((value as Record<string, unknown>)[step.name]);
      }
    }
    current = next;
  }
  return current;
}
