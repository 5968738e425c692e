import { afterCursor, encodeCursor, orderBy, pageOf } from './pagination.ts';

describe('keyset pagination', () => {
  it('continues after the last item of the page, ties broken by id', () => {
    const rows = [
      { id: 'a', name: 'x' },
      { id: 'b', name: 'x' },
      { id: 'c', name: 'y' },
    ];
    const page = pageOf(rows, { limit: 2, sort: 'name' }, 'id', (row) => row.id);
    expect(page.items).toEqual(['a', 'b']);
    const where = afterCursor({ limit: 2, sort: 'name', cursor: page.nextCursor! }, 'id', []);
    expect(where).toEqual({ $or: [{ name: { $gt: 'x' } }, { name: 'x', id: { $gt: 'b' } }] });
    expect(orderBy({ limit: 2, sort: '-name' }, 'id')).toEqual({ name: 'desc', id: 'desc' });
  });

  it('has no next page when the extra row is absent, and refuses foreign cursors', () => {
    expect(pageOf([{ id: 'a', name: 'x' }], { limit: 1, sort: 'name' }, 'id', (row) => row).nextCursor).toBeNull();
    expect(() => afterCursor({ limit: 1, sort: 'name', cursor: encodeCursor('-name', 'x', 'a') }, 'id', [])).toThrow(
      /sort=-name/,
    );
    expect(() => afterCursor({ limit: 1, sort: 'name', cursor: '!!' }, 'id', [])).toThrow(/not one this API produced/);
  });

  it('restores dates from the cursor for date sorts', () => {
    const cursor = encodeCursor('-createdAt', new Date('2026-01-01T00:00:00Z'), 'e1');
    expect(afterCursor({ limit: 1, sort: '-createdAt', cursor }, 'id', ['createdAt'])).toEqual({
      $or: [
        { createdAt: { $lt: new Date('2026-01-01T00:00:00Z') } },
        { createdAt: new Date('2026-01-01T00:00:00Z'), id: { $lt: 'e1' } },
      ],
    });
  });
});
