import { compileGetter, type PathSegment } from '../json-path.ts';
import { checkKeys, describe, isPlainObject, pathAt, type Problems } from './problems.ts';
import { TRANSFORMATION_TYPES } from './rule.schema.ts';
import { compileTemplateInto, templateText } from './template.ts';
import { isUnitName, unitConverter, UNIT_NAMES } from './units.ts';

export type Document = Record<string, unknown>;
/**
 * Applies one transformation and returns the new root. Copy-on-write: `owned` holds the objects
 * this evaluation created or copied; any other object belongs to the input event (or to other
 * rules' results) and is copied shallowly before it is changed. So an event is never modified,
 * and only the containers along changed paths are copied, not the whole event.
 * NOTE: unchanged parts of the result are shared with the input event: consumers of rule results
 * must treat events as read-only.
 */
export type Transform = (document: Document, owned: Set<object>) => Document;

const IDENTITY: Transform = (document) => document;

/** Copies a JSON value. NOTE: `__proto__` keys (legal in JSON) are defined, never assigned. */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) items[index] = cloneJson(value[index]);
    return items as T;
  }
  const copy: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    const child = (value as Record<string, unknown>)[key];
    const cloned = child === null || typeof child !== 'object' ? child : cloneJson(child);
    if (key === '__proto__')
      Object.defineProperty(copy, key, { value: cloned, enumerable: true, writable: true, configurable: true });
    else copy[key] = cloned;
  }
  return copy as T;
}

type Container = Record<PathSegment, unknown>;

/** The container at `segments` (all but the last), each level owned (copied once if it was not). */
function compileOwnedParent(
  segments: readonly PathSegment[],
  create: boolean,
): (root: Document, owned: Set<object>) => Container | undefined {
  const parents = segments.slice(0, -1);
  return (root, owned) => {
    let current: Container = root;
    for (let index = 0; index < parents.length; index++) {
      const key = parents[index]!;
      const child = current[key];
      if (child !== null && typeof child === 'object') {
        if (owned.has(child)) {
          current = child as Container;
          continue;
        }
        // Spread and slice define properties (a "__proto__" key stays data, never a prototype).
        const copy = Array.isArray(child) ? child.slice() : { ...(child as Container) };
        owned.add(copy);
        current[key] = copy;
        current = copy as Container;
      } else {
        if (!create) return undefined;
        const fresh = typeof segments[index + 1] === 'number' ? [] : {};
        owned.add(fresh);
        current[key] = fresh;
        current = fresh as Container;
      }
    }
    return current;
  };
}

/** Sets a value, creating missing parents and copying shared ones (copy-on-write). */
function compileOwnedSetter(
  segments: readonly PathSegment[],
): (root: Document, owned: Set<object>, value: unknown) => void {
  const parent = compileOwnedParent(segments, true);
  const last = segments[segments.length - 1]!;
  return (root, owned, value) => {
    parent(root, owned)![last] = value;
  };
}

/** Removes a field or array element; a missing path is a no-op and copies nothing. */
function compileOwnedRemover(segments: readonly PathSegment[]): (root: Document, owned: Set<object>) => void {
  const get = compileGetter(segments);
  const parent = compileOwnedParent(segments, false);
  const last = segments[segments.length - 1]!;
  return (root, owned) => {
    if (get(root) === undefined) return;
    const container = parent(root, owned);
    if (container === undefined) return;
    if (Array.isArray(container) && typeof last === 'number') container.splice(last, 1);
    else delete container[last];
  };
}

const FIELDS: Record<(typeof TRANSFORMATION_TYPES)[number], { required: string[]; optional: string[] }> = {
  rename: { required: ['from', 'to'], optional: [] },
  copy: { required: ['from', 'to'], optional: [] },
  set: { required: ['path', 'value'], optional: [] },
  remove: { required: ['path'], optional: [] },
  map: { required: ['path', 'mapping'], optional: ['default'] },
  template: { required: ['path', 'template'], optional: [] },
  convert: { required: ['path', 'from', 'to'], optional: ['unitPath'] },
  flatten: { required: ['path'], optional: ['separator'] },
  unflatten: { required: ['path'], optional: ['separator'] },
  keep: { required: ['paths'], optional: [] },
};

export function compileTransformation(definition: unknown, place: string, problems: Problems): Transform {
  if (!isPlainObject(definition)) {
    problems.add(place, `a transformation must be an object with a "type", not ${describe(definition)}`);
    return IDENTITY;
  }
  const type = definition.type as (typeof TRANSFORMATION_TYPES)[number];
  if (!TRANSFORMATION_TYPES.includes(type)) {
    problems.add(
      `${place}.type`,
      `unknown transformation ${describe(definition.type)} (one of ${TRANSFORMATION_TYPES.join(', ')})`,
    );
    return IDENTITY;
  }
  const fields = FIELDS[type];
  checkKeys(problems, place, definition, ['type', ...fields.required, ...fields.optional]);
  const before = problems.list.length;
  for (const field of fields.required) if (!(field in definition)) problems.add(`${place}.${field}`, 'is required');
  if (problems.list.length > before) return IDENTITY;

  const path = (field: string): PathSegment[] | undefined => pathAt(problems, `${place}.${field}`, definition[field]);
  const writable = (field: string): PathSegment[] | undefined => {
    const segments = path(field);
    if (segments?.length === 0) problems.add(`${place}.${field}`, 'cannot be the root "$"');
    return segments?.length === 0 ? undefined : segments;
  };

  switch (type) {
    case 'rename':
    case 'copy': {
      const from = writable('from');
      const to = writable('to');
      if (!from || !to) return IDENTITY;
      const get = compileGetter(from);
      const set = compileOwnedSetter(to);
      const remove = compileOwnedRemover(from);
      return type === 'rename'
        ? (document, owned) => {
            const value = get(document);
            if (value === undefined) return document;
            remove(document, owned);
            set(document, owned, value);
            return document;
          }
        : (document, owned) => {
            const value = get(document);
            if (value !== undefined) set(document, owned, cloneJson(value));
            return document;
          };
    }
    case 'set': {
      const target = writable('path');
      if (!target) return IDENTITY;
      const set = compileOwnedSetter(target);
      const value = definition.value;
      const constant = value === null || typeof value !== 'object';
      return (document, owned) => {
        set(document, owned, constant ? value : cloneJson(value));
        return document;
      };
    }
    case 'remove': {
      const target = writable('path');
      if (!target) return IDENTITY;
      const remove = compileOwnedRemover(target);
      return (document, owned) => {
        remove(document, owned);
        return document;
      };
    }
    case 'map':
      return compileMap(definition, writable('path'), place, problems);
    case 'template': {
      const target = writable('path');
      const render = compileTemplateInto(definition.template, `${place}.template`, problems);
      if (!target) return IDENTITY;
      const set = compileOwnedSetter(target);
      return (document, owned) => {
        set(document, owned, render(document));
        return document;
      };
    }
    case 'convert':
      return compileConvert(
        definition,
        writable('path'),
        definition.unitPath === undefined ? undefined : writable('unitPath'),
        place,
        problems,
      );
    case 'flatten':
    case 'unflatten': {
      const target = path('path');
      const separator = definition.separator ?? '.';
      if (typeof separator !== 'string' || separator.length === 0) {
        problems.add(`${place}.separator`, `must be a non-empty string, not ${describe(separator)}`);
        return IDENTITY;
      }
      if (!target) return IDENTITY;
      const reshape =
        type === 'flatten'
          ? (object: Document) => flatten(object, separator)
          : (object: Document) => unflatten(object, separator);
      if (target.length === 0)
        return (document, owned) => {
          const reshaped = reshape(document);
          owned.add(reshaped);
          return reshaped;
        };
      const get = compileGetter(target);
      const set = compileOwnedSetter(target);
      return (document, owned) => {
        const value = get(document);
        if (isPlainObject(value)) set(document, owned, reshape(value));
        return document;
      };
    }
    case 'keep': {
      const paths = definition.paths;
      if (!Array.isArray(paths) || paths.length === 0) {
        problems.add(`${place}.paths`, `must be a non-empty array of paths, not ${describe(paths)}`);
        return IDENTITY;
      }
      const copies = paths.map((item, index) => {
        const segments = pathAt(problems, `${place}.paths[${index}]`, item);
        if (segments?.length === 0) problems.add(`${place}.paths[${index}]`, 'cannot be the root "$"');
        return segments && segments.length > 0
          ? { get: compileGetter(segments), set: compileOwnedSetter(segments) }
          : undefined;
      });
      return (document, owned) => {
        const kept: Document = {};
        owned.add(kept);
        for (const copy of copies) {
          const value = copy?.get(document);
          if (value !== undefined) copy!.set(kept, owned, value);
        }
        return kept;
      };
    }
  }
}

function compileMap(
  definition: Document,
  target: PathSegment[] | undefined,
  place: string,
  problems: Problems,
): Transform {
  const { mapping } = definition;
  if (!isPlainObject(mapping)) {
    problems.add(`${place}.mapping`, `must be an object from values to replacements, not ${describe(mapping)}`);
    return IDENTITY;
  }
  if (!target) return IDENTITY;
  const table = new Map(Object.entries(mapping));
  const hasDefault = 'default' in definition;
  const fallback = definition.default;
  const get = compileGetter(target);
  const set = compileOwnedSetter(target);
  return (document, owned) => {
    const value = get(document);
    // A missing field stays missing (map never invents a field); objects are not mapped.
    if (value === undefined || (value !== null && typeof value === 'object')) return document;
    const key = templateText(value === null ? 'null' : value);
    if (table.has(key)) set(document, owned, cloneJson(table.get(key)));
    else if (hasDefault) set(document, owned, cloneJson(fallback));
    return document;
  };
}

function compileConvert(
  definition: Document,
  target: PathSegment[] | undefined,
  unitPath: PathSegment[] | undefined,
  place: string,
  problems: Problems,
): Transform {
  const { from, to } = definition;
  for (const [field, unit] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!isUnitName(unit))
      problems.add(`${place}.${field}`, `unknown unit ${describe(unit)} (one of ${UNIT_NAMES.join(', ')})`);
  }
  if (!isUnitName(from) || !isUnitName(to)) return IDENTITY;
  const convert = unitConverter(from, to);
  if (typeof convert === 'string') {
    problems.add(place, convert);
    return IDENTITY;
  }
  if (!target) return IDENTITY;
  const get = compileGetter(target);
  const set = compileOwnedSetter(target);
  if (!unitPath) {
    return (document, owned) => {
      const value = get(document);
      if (typeof value === 'number') set(document, owned, convert(value));
      return document;
    };
  }
  const getUnit = compileGetter(unitPath);
  const setUnit = compileOwnedSetter(unitPath);
  return (document, owned) => {
    const value = get(document);
    // Only values declared in `from` convert, so a stream with mixed units stays correct.
    if (typeof value === 'number' && getUnit(document) === from) {
      set(document, owned, convert(value));
      setUnit(document, owned, to);
    }
    return document;
  };
}

function flatten(object: Document, separator: string, prefix = '', into: Document = {}): Document {
  for (const [key, value] of Object.entries(object)) {
    const name = prefix + key;
    if (isPlainObject(value) && Object.keys(value).length > 0) flatten(value, separator, name + separator, into);
    else defineField(into, name, value);
  }
  return into;
}

const UNSAFE_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

function unflatten(object: Document, separator: string): Document {
  const result: Document = {};
  for (const [key, value] of Object.entries(object)) {
    const parts = key.split(separator);
    // NOTE: event data is untrusted; a key such as "__proto__.x" must not reach a prototype.
    if (parts.some((part) => UNSAFE_KEYS.has(part)) || parts.some((part) => part === '')) {
      defineField(result, key, value);
      continue;
    }
    let current = result;
    for (const part of parts.slice(0, -1)) {
      const next = current[part];
      if (!isPlainObject(next)) current[part] = {};
      current = current[part] as Document;
    }
    current[parts[parts.length - 1]!] = value;
  }
  return result;
}

function defineField(object: Document, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}
