import { compileGetter } from '../json-path.ts';
import { describe, pathAt, Problems } from './problems.ts';

export type Template = (event: unknown) => string;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** How a value prints inside a template: missing and null print nothing, objects print as JSON. */
export function templateText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Compiles "Signup from {{ $.dimensions.country }}" into a closure. The text is split once into
 * literal parts and getters; rendering only concatenates.
 */
export function compileTemplateInto(text: unknown, place: string, problems: Problems): Template {
  if (typeof text !== 'string') {
    problems.add(place, `a template must be a string, not ${describe(text)}`);
    return () => '';
  }
  const literals: string[] = [];
  const getters: ((event: unknown) => unknown)[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    literals.push(text.slice(last, match.index));
    const segments = pathAt(problems, `${place} placeholder "${match[0]}"`, match[1]);
    getters.push(segments ? compileGetter(segments) : () => undefined);
    last = match.index + match[0].length;
  }
  const tail = text.slice(last);
  if (tail.includes('{{')) problems.add(place, `unclosed "{{" in ${JSON.stringify(text)}`);
  literals.push(tail);
  if (getters.length === 0) return () => text;
  return (event) => {
    let result = literals[0]!;
    for (let index = 0; index < getters.length; index++)
      result += templateText(getters[index]!(event)) + literals[index + 1]!;
    return result;
  };
}

/** Compiles a template on its own (Slack messages, email subjects); throws RuleCompileError. */
export function compileTemplate(text: unknown, place = 'template'): Template {
  const problems = new Problems();
  const template = compileTemplateInto(text, place, problems);
  problems.throwIfAny();
  return template;
}
