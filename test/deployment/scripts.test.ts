import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/services.ts';

// The deployment scripts cannot reach a cloud here; what they would do is checked through their
// --dry-run, their early refusals, shellcheck, and (install.sh) systemd's own unit verifier.

const SCRIPTS = join(ROOT, 'deploy', 'scripts');
const runnable = readdirSync(SCRIPTS).filter(
  (name) => name.endsWith('.sh') && !['lib.sh', 'kubernetes.sh'].includes(name),
);

function script(name: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync('bash', [join(SCRIPTS, name), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    // Only what the test gives: no MUXLY_ variable of the developer's leaks in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

function requireTool(tool: string, install: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
    throw new Error(`${tool} is not installed: ${install} (npm test installs it when run as root)`);
}

// Every key of the muxly-secrets Secret, with a value nobody would print by accident.
const secretEnv = Object.fromEntries(
  readFileSync(join(ROOT, 'deploy', 'kubernetes', 'secrets.example.env'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), `secret-value-of-${line.slice(0, line.indexOf('='))}`]),
);

test('the scripts are the six the deployment guide names', () => {
  expect(runnable.sort()).toEqual([
    'backup.sh',
    'deploy-aws.sh',
    'deploy-gcp.sh',
    'docker-build.sh',
    'install.sh',
    'restore.sh',
  ]);
});

test('every shell script of the project passes shellcheck', () => {
  requireTool('shellcheck', 'apt-get install -y shellcheck');
  const files = [
    ...readdirSync(SCRIPTS).map((name) => join('deploy', 'scripts', name)),
    ...readdirSync(join(ROOT, 'deploy', 'local'))
      .filter((name) => name.endsWith('.sh'))
      .map((name) => join('deploy', 'local', name)),
    // The developer's commands (npm start, npm test, npm run bench) and CI's.
    ...readdirSync(join(ROOT, 'scripts'))
      .filter((name) => name.endsWith('.sh'))
      .map((name) => join('scripts', name)),
    join('.ci', 'run'),
  ];
  const result = spawnSync('shellcheck', ['-x', ...files], { cwd: ROOT, encoding: 'utf8' });
  expect(result.stdout).toBe('');
  expect(result.status).toBe(0);
});

test.each(runnable)('%s --help explains its use', (name) => {
  const { status, out } = script(name, ['--help']);
  expect(status).toBe(0);
  expect(out).toMatch(/^usage: deploy\/scripts\//);
  expect(out).toContain('--dry-run');
});

test.each(runnable)('%s refuses an unknown argument', (name) => {
  const { status, out } = script(name, ['--no-such-option']);
  expect(status).toBe(1);
  expect(out).toContain('unknown argument: --no-such-option');
});

test.each([
  ['deploy-aws.sh', '--cluster is not set'],
  ['deploy-gcp.sh', '--cluster is not set'],
  ['backup.sh', '--database-url is not set'],
  ['restore.sh', '--from is not set'],
])('%s fails early naming the missing setting', (name, message) => {
  const { status, out } = script(name, ['--dry-run']);
  expect(status).toBe(1);
  expect(out).toContain(message);
});

test('deploy-aws.sh names every missing secret variable at once', () => {
  const { status, out } = script('deploy-aws.sh', ['--cluster', 'c', '--region', 'r', '--image', 'x:1', '--dry-run'], {
    MUXLY_KAFKA__SASL__PASSWORD: 'x',
  });
  expect(status).toBe(1);
  expect(out).toContain('MUXLY_CONTROL_PLANE__DATABASE__URL');
  expect(out).toContain('REGISTRY_DATASOURCE_PASSWORD');
  expect(out).not.toMatch(/MUXLY_KAFKA__SASL__PASSWORD[^=]/);
});

test.each([
  [
    'deploy-aws.sh',
    'aws',
    ['--cluster', 'prod', '--region', 'eu-west-1'],
    'aws eks update-kubeconfig --name prod --region eu-west-1',
  ],
  [
    'deploy-gcp.sh',
    'gcp',
    ['--cluster', 'prod', '--region', 'europe-west1', '--project', 'acme'],
    'gcloud container clusters get-credentials prod --region europe-west1 --project acme',
  ],
])('%s --dry-run shows the whole release and never a secret', (name, overlay, args, credentials) => {
  const { status, out } = script(name, [...args, '--image', 'registry.example/muxly:1.2.3', '--dry-run'], secretEnv);
  expect(status).toBe(0);
  expect(out).toContain(`+ ${credentials}`);
  expect(out).toContain(`rendered the ${overlay} overlay with registry.example/muxly:1.2.3`);
  expect(out).toContain('create secret generic muxly-secrets');
  expect(out).toContain('+ kubectl -n muxly delete job muxly-migrate --ignore-not-found');
  expect(out).toContain('+ kubectl -n muxly wait --for=condition=complete job/muxly-migrate');
  for (const deployment of ['muxly-ingest', 'muxly-transformer', 'muxly-router', 'muxly-control-plane'])
    expect(out).toContain(`rollout status deployment/${deployment}`);
  expect(out).not.toContain('secret-value-of-');
});

test('docker-build.sh --dry-run builds the Dockerfile with podman or Docker', () => {
  const podman = script('docker-build.sh', ['--podman', '--image', 'muxly:test', '--dry-run']);
  expect(podman.status).toBe(0);
  expect(podman.out).toContain('+ podman --runtime runc build --network host --pull=missing -t muxly:test .');
  const noTag = script('docker-build.sh', ['--image', 'muxly', '--dry-run']);
  expect(noTag.status).toBe(1);
  expect(noTag.out).toContain('--image must include a tag');
});

test('backup.sh --dry-run dumps the database, exports the registry and keeps the settings', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'muxly-backup-')), 'b');
  const result = script('backup.sh', [
    '--database-url',
    'postgresql://postgres@127.0.0.1:5432/muxly',
    '--registry-url',
    'http://127.0.0.1:8085/',
    '--settings',
    join(ROOT, 'config', 'local.yaml'),
    '--out',
    out,
    '--dry-run',
  ]);
  expect(result.status).toBe(0);
  expect(result.out).toContain(`pg_dump --format=custom --no-owner --no-privileges --file=${out}/control-plane.dump`);
  expect(result.out).toContain(`${out}/registry.zip http://127.0.0.1:8085/apis/registry/v3/admin/export`);
  expect(result.out).toContain(`+ cp ${join(ROOT, 'config', 'local.yaml')} ${out}/settings.yaml`);
});

test('install.sh writes systemd units that systemd itself accepts', () => {
  requireTool('systemd-analyze', 'apt-get install -y systemd');
  const dir = mkdtempSync(join(tmpdir(), 'muxly-install-'));
  const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  const args = ['--skip-deps', '--user', user, '--config', join(dir, 'etc', 'muxly.yaml')];
  const installed = script('install.sh', [
    ...args,
    '--unit-dir',
    join(dir, 'units'),
    '--state-dir',
    join(dir, 'state'),
  ]);
  expect(installed.status).toBe(0);
  const units = readdirSync(join(dir, 'units')).sort();
  expect(units).toEqual([
    'muxly-control-plane.service',
    'muxly-ingest.service',
    'muxly-router.service',
    'muxly-transformer.service',
  ]);
  const verify = spawnSync('systemd-analyze', ['verify', ...units.map((unit) => join(dir, 'units', unit))], {
    encoding: 'utf8',
  });
  expect(verify.stderr).toBe('');
  expect(verify.status).toBe(0);
  const router = readFileSync(join(dir, 'units', 'muxly-router.service'), 'utf8');
  expect(router).toContain(`ExecStart=`);
  expect(router).toContain(join(ROOT, 'router', 'src', 'main.ts'));
  expect(router).toContain('RestartPreventExitStatus=78');
  // Idempotent: a second run keeps the settings file and rewrites the same units.
  const again = script('install.sh', [...args, '--unit-dir', join(dir, 'units'), '--state-dir', join(dir, 'state')]);
  expect(again.status).toBe(0);
  expect(again.out).not.toContain('wrote ');
  expect(readFileSync(join(dir, 'units', 'muxly-router.service'), 'utf8')).toBe(router);
});
