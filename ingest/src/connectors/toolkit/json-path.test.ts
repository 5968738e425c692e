import { ConfigurationError } from '@muxly/common';
import { compilePath } from './json-path.ts';

// The connector side of Muxly's one JSONPath dialect (the dialect itself is tested in
// schemas/src/json-path.test.ts): the documented paths of docs/connectors.md, and a malformed
// path as a configuration error.

const page = {
  data: [
    { id: 'a-1', plan: 'pro', updated_at: '2026-03-01T00:00:00Z' },
    { id: 'a-2', plan: 'free', updated_at: '2026-03-02T00:00:00Z' },
  ],
  meta: { next: 'cursor-2' },
};

describe('compilePath', () => {
  it('selects the records and reads the fields of the documented example', () => {
    const records = compilePath('$.data[*]').all(page);
    expect(records).toEqual(page.data);
    expect(compilePath('$.meta.next').first(page)).toBe('cursor-2');
    expect(records.map((record) => compilePath('$.id').first(record))).toEqual(['a-1', 'a-2']);
    expect(compilePath('$.updated_at').first(records[1])).toBe('2026-03-02T00:00:00Z');
    expect(compilePath('$.plan').all(records[0])).toEqual(['pro']);
    expect(compilePath('$.data[-1].id').first(page)).toBe('a-2');
    expect(compilePath('$.missing').first(page)).toBeUndefined();
  });

  it('reports a malformed path as a configuration error that names it', () => {
    expect(() => compilePath('$.data[?(@.id)]')).toThrow(ConfigurationError);
    expect(() => compilePath('data[*]')).toThrow('invalid path: path "data[*]" must start with "$"');
  });
});
