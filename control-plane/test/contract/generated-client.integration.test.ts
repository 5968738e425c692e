import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, startAuthHarness, type AuthHarness } from '../auth/support.ts';

// A client generated from the published document, as a user would make one: openapi-typescript
// turns schemas/openapi/control-plane.yaml into types, a small openapi-fetch program is
// type-checked against them, then run against a real control plane. It proves that the document's
// paths, bodies and answers are the server's, not only that the document is well formed.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

// Inside the repository (git-ignored .local/) so the program resolves openapi-fetch as users' code would.
mkdirSync(join(ROOT, '.local', 'tmp'), { recursive: true });
const dir = mkdtempSync(join(ROOT, '.local', 'tmp', 'openapi-client-'));

const PROGRAM = `import createClient from 'openapi-fetch';
import type { paths } from './control-plane.ts';

/** Signs in, creates a destination, lists destinations: what a script against Muxly does first. */
export async function useApi(baseUrl: string, username: string, password: string): Promise<string[]> {
  const client = createClient<paths>({ baseUrl });
  const login = await client.POST('/api/v1/auth/login', { body: { username, password } });
  if (!login.data) throw new Error(\`login answered \${login.response.status}\`);
  const headers = { authorization: \`Bearer \${login.data.accessToken}\` };
  const created = await client.POST('/api/v1/destinations', {
    headers,
    body: { id: 'generated-client-file', name: 'From the generated client', type: 'file', config: { path: 'generated.jsonl' } },
  });
  if (!created.data) throw new Error(\`create answered \${created.response.status}\`);
  const list = await client.GET('/api/v1/destinations', { headers, params: { query: { limit: 50 } } });
  if (!list.data) throw new Error(\`list answered \${list.response.status}\`);
  return list.data.items.map((destination) => destination.id);
}
`;

function typecheck(files: string[]): { status: number | null; output: string } {
  const result = spawnSync(
    bin('tsc'),
    [
      '--ignoreConfig',
      '--noEmit',
      '--strict',
      '--target',
      'es2023',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--allowImportingTsExtensions',
      '--skipLibCheck',
      '--types',
      'node',
      ...files,
    ],
    { cwd: dir, encoding: 'utf8', timeout: 240_000 },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

let harness: AuthHarness;

beforeAll(async () => {
  const generated = spawnSync(
    bin('openapi-typescript'),
    [
      join(ROOT, 'schemas', 'openapi', 'control-plane.yaml'),
      '--output',
      join(dir, 'control-plane.ts'),
      // a field with a default may be left out of a request (the server fills it in)
      '--default-non-nullable=false',
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, REDOCLY_TELEMETRY: 'off' } },
  );
  expect([generated.status, generated.stderr.includes('✨') || generated.stdout.includes('✨')]).toEqual([0, true]);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'program.ts'), PROGRAM);
  harness = await startAuthHarness();
}, 300_000);

afterAll(async () => {
  await harness?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the client program type-checks against the generated types', () => {
  expect(typecheck(['program.ts'])).toEqual({ status: 0, output: '' });
}, 240_000);

test('a call the document does not have, or a wrong body, fails the type check', () => {
  writeFileSync(
    join(dir, 'wrong.ts'),
    `import createClient from 'openapi-fetch';
import type { paths } from './control-plane.ts';
const client = createClient<paths>({ baseUrl: 'http://127.0.0.1' });
export const typo = client.GET('/api/v1/destination');
export const body = client.POST('/api/v1/auth/login', { body: { email: 'a', password: 'b' } });
`,
  );
  const result = typecheck(['wrong.ts']);
  expect(result.status).not.toBe(0);
  expect(result.output).toMatch(/wrong\.ts\(4,\d+\): error/);
  expect(result.output).toMatch(/wrong\.ts\(5,\d+\): error .*'email' does not exist/);
}, 240_000);

test('the generated client signs in, creates and lists destinations on a running control plane', async () => {
  const { useApi } = (await import(join(dir, 'program.ts'))) as {
    useApi(baseUrl: string, username: string, password: string): Promise<string[]>;
  };
  expect(await useApi(harness.baseUrl, ADMIN.email, ADMIN.password)).toContain('generated-client-file');
});
