import { databaseEndpointOf, ForbiddenDatabases } from './forbidden-databases.ts';

describe('forbidden databases', () => {
  const protectedDb = new ForbiddenDatabases([
    'postgresql://muxly:secret@127.0.0.1:5432/muxly',
    'mysql://db.internal:3306',
  ]);

  test('connection strings parse into what they reach (default ports, the user name as database)', () => {
    expect(databaseEndpointOf('postgres://u:p@[::1]/Muxly')).toEqual({
      server: 'postgres',
      host: '::1',
      port: 5432,
      database: 'muxly',
    });
    expect(databaseEndpointOf('postgresql://alice@db')).toMatchObject({ port: 5432, database: 'alice' });
    expect(databaseEndpointOf('mariadb://db:3307/x')).toMatchObject({ server: 'mysql', port: 3307 });
    expect(databaseEndpointOf('https://example.com')).toBeUndefined();
    expect(databaseEndpointOf('not a url')).toBeUndefined();
  });

  test.each([
    ['postgres://x@localhost/muxly', true],
    ['postgres://x@127.9.9.9:5432/MUXLY', true],
    ['postgres://x@[::ffff:127.0.0.1]:5432/muxly', true],
    ['postgres://x@localhost/other', false],
    ['postgres://x@localhost:5433/muxly', false],
    ['postgres://x@192.0.2.10/muxly', false],
    ['mysql://root@localhost:5432/anything', true],
  ])('%s refused: %s', async (connectionString, refused) => {
    expect(Boolean(await protectedDb.refusal(connectionString))).toBe(refused);
  });

  test('a MySQL server is protected whole: any database on it', async () => {
    const names = new ForbiddenDatabases(['mysql://127.0.0.1:3306']);
    expect(await names.refusal('mysql://root@localhost:3306/other')).toContain('protects');
  });
});
