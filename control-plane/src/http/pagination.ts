import type { FilterQuery } from '@mikro-orm/core';
import { ApiProblem } from './problem.ts';

// Keyset pagination: the cursor holds the sort field's value and the id of the last item of the
// page, so a page stays correct while objects are added or removed (unlike offsets). The cursor
// also names the sort it was made for; using it with another sort is a 400, not a wrong page.

export interface PageQuery {
  limit: number;
  cursor?: string | undefined;
  /** "field" or "-field". */
  sort: string;
}

interface CursorData {
  s: string;
  v: unknown;
  id: string;
}

function parseSort(sort: string): { field: string; descending: boolean } {
  return sort.startsWith('-') ? { field: sort.slice(1), descending: true } : { field: sort, descending: false };
}

export function encodeCursor(sort: string, value: unknown, id: string): string {
  const data: CursorData = { s: sort, v: value instanceof Date ? value.toISOString() : value, id };
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, sort: string): CursorData {
  let data: CursorData;
  try {
    data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorData;
  } catch {
    throw new ApiProblem(400, 'invalid-cursor', 'the cursor is not one this API produced');
  }
  if (typeof data !== 'object' || data === null || typeof data.id !== 'string' || typeof data.s !== 'string') {
    throw new ApiProblem(400, 'invalid-cursor', 'the cursor is not one this API produced');
  }
  if (data.s !== sort)
    throw new ApiProblem(
      400,
      'invalid-cursor',
      `the cursor was made for sort=${data.s}; use the same sort to continue`,
    );
  return data;
}

/** The where-clause part that starts after the cursor, for a sort on `field` then `idField`. */
export function afterCursor(
  query: PageQuery,
  idField: string,
  dateFields: readonly string[],
): FilterQuery<object> | undefined {
  if (!query.cursor) return undefined;
  const { field, descending } = parseSort(query.sort);
  const data = decodeCursor(query.cursor, query.sort);
  const value = dateFields.includes(field) && typeof data.v === 'string' ? new Date(data.v) : data.v;
  const beyond = descending ? '$lt' : '$gt';
  if (field === idField) return { [idField]: { [beyond]: data.id } };
  return { $or: [{ [field]: { [beyond]: value } }, { [field]: value, [idField]: { [beyond]: data.id } }] };
}

export function orderBy(query: PageQuery, idField: string): Record<string, 'asc' | 'desc'> {
  const { field, descending } = parseSort(query.sort);
  const direction = descending ? 'desc' : 'asc';
  return field === idField ? { [idField]: direction } : { [field]: direction, [idField]: direction };
}

/** Builds the page answer from one extra row fetched to know whether another page exists. */
export function pageOf<T extends object, R>(
  rows: T[],
  query: PageQuery,
  idField: string,
  render: (row: T) => R,
): { items: R[]; nextCursor: string | null } {
  const hasMore = rows.length > query.limit;
  const page = hasMore ? rows.slice(0, query.limit) : rows;
  const last = page.at(-1) as Record<string, unknown> | undefined;
  const { field } = parseSort(query.sort);
  return {
    items: page.map(render),
    nextCursor: hasMore && last ? encodeCursor(query.sort, last[field], String(last[idField])) : null,
  };
}
