import { ConfigurationError } from '@muxly/common';
import { compileSelector, parseSelector, PathSyntaxError } from '@muxly/schemas';

// Record selectors and field paths of connectors, in Muxly's one JSONPath dialect (the parser and
// evaluator live in @muxly/schemas, shared with routing rules). Connector paths are selectors:
// `[*]`, `.*` and negative indexes are allowed; a path that selects nothing yields no values.

export interface CompiledPath {
  source: string;
  /** Every value the path selects (wildcards fan out). */
  all(document: unknown): unknown[];
  /** The first value selected, or undefined. */
  first(document: unknown): unknown;
}

// Connector code compiles paths where it uses them (per page, per record); the cache keeps that
// to one parse per distinct path.
const cache = new Map<string, CompiledPath>();

/** Compiles a connector path; a malformed one is a configuration error naming the path. */
export function compilePath(source: string): CompiledPath {
  const cached = cache.get(source);
  if (cached) return cached;
  let select: (document: unknown) => unknown[];
  try {
    select = compileSelector(parseSelector(source));
  } catch (error) {
    if (error instanceof PathSyntaxError) throw new ConfigurationError(`invalid path: ${error.message}`);
    throw error;
  }
  const compiled: CompiledPath = { source, all: select, first: (document) => select(document)[0] };
  if (cache.size < 1000) cache.set(source, compiled);
  return compiled;
}
