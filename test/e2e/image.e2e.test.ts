import { execFile, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../../control-plane/test/database.ts';
import { freePort, KAFKA_BROKER, REGISTRY_URL, requireLocalStack, ROOT, waitFor } from '../support/services.ts';

// The project's Dockerfile, unchanged, built and run for real with podman (no Docker engine
// here): every service starts from the image against the local Kafka, registry and PostgreSQL,
// and a metric posted to the containerized ingest reaches the file destination, which writes to
// a named volume mounted where the compose file mounts it.
//
// Registry images cannot be pulled here, so the Dockerfile's base image is a local stand-in made
// by test/deployment/image/make-base-image.sh (Debian bookworm and Node 24); podman keeps it and
// the build's layers, so only the first run on a machine pays for them.

const run = promisify(execFile);
const env = { ...process.env, CONTAINERS_CONF: join(ROOT, 'test', 'deployment', 'image', 'containers.conf') };
const podman = (...args: string[]) =>
  run('podman', ['--runtime', 'runc', ...args], { env, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
const id = randomBytes(4).toString('hex');
const image = `localhost/muxly:e2e`;
const volume = `muxly-e2e-out-${id}`;
const containers: string[] = [];
const apiKey = `mxk_image_e2e_${randomBytes(8).toString('hex')}`;
let database: TestDatabase | undefined;
let ports = { ingest: 0, transformer: 0, router: 0, controlPlane: 0 };

beforeAll(async () => {
  for (const tool of ['podman', 'runc', 'debootstrap'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      throw new Error(
        `${tool} is not installed: apt-get install -y podman runc debootstrap (npm test does it as root)`,
      );
  await requireLocalStack();
  await run('bash', [join(ROOT, 'test', 'deployment', 'image', 'make-base-image.sh'), process.execPath], {
    env,
    timeout: 900_000,
  });
  // Built the way a user builds it: deploy/scripts/docker-build.sh with podman.
  await run('bash', [join(ROOT, 'deploy', 'scripts', 'docker-build.sh'), '--podman', '--image', image], {
    env,
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  await podman('volume', 'create', volume);
  database = await createTestDatabase();
  ports = {
    ingest: await freePort(),
    transformer: await freePort(),
    router: await freePort(),
    controlPlane: await freePort(),
  };
}, 1_800_000);

afterAll(async () => {
  for (const name of containers) await podman('rm', '-f', '-t', '5', name).catch(() => undefined);
  await podman('volume', 'rm', '-f', volume).catch(() => undefined);
  await database?.drop();
}, 120_000);

test('every service runs from the image, and a posted metric lands in the volume', async () => {
  const prefix = `image-${id}.`;
  const settings = {
    log: { level: 'warn' },
    kafka: { brokers: [KAFKA_BROKER] },
    schemaRegistry: { url: REGISTRY_URL },
    topics: { prefix, partitions: 1 },
    ingest: {
      http: { port: ports.ingest },
      apiKeys: [{ id: 'image', hash: `sha256:${createHash('sha256').update(apiKey).digest('hex')}` }],
    },
    transformer: { health: { port: ports.transformer }, groupId: `${prefix}transformer`, instanceId: 'image' },
    router: { health: { port: ports.router }, groupIdPrefix: `${prefix}router.` },
    // The image runs in production mode: the keys it requires, as an operator gives them.
    controlPlane: {
      http: { port: ports.controlPlane },
      database: { url: database!.url },
      publishConfig: false,
      auth: {
        signingKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      },
      secrets: { keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] },
    },
    // The volume is mounted at /app/.local/out; files are written under the operator's folder.
    outbound: { fileBaseDirectory: '/app/.local/out' },
    pipeline: {
      destinations: [{ id: 'file', type: 'file', config: { path: 'events.jsonl' } }],
      rules: [{ id: 'all', destinationIds: ['file'] }],
    },
  };
  const settingsFile = join(mkdtempSync(join(tmpdir(), 'muxly-image-')), 'muxly.json');
  writeFileSync(settingsFile, JSON.stringify(settings));
  chmodSync(settingsFile, 0o644);

  for (const service of ['ingest', 'transformer', 'router', 'control-plane']) {
    const name = `muxly-e2e-${service}-${id}`;
    containers.push(name);
    await podman(
      'run',
      '--detach',
      '--name',
      name,
      '--network',
      'host',
      '--volume',
      `${settingsFile}:/etc/muxly/muxly.json:ro`,
      '--volume',
      `${volume}:/app/.local/out`,
      '--env',
      'MUXLY_CONFIG=/etc/muxly/muxly.json',
      image,
      'node',
      `${service}/src/main.ts`,
    );
  }
  // The image runs as the unprivileged `node` user, and the folder the volume is mounted on exists
  // in the image owned by it (Docker initializes a new volume from it; a missing folder would
  // come out owned by root, and the file destination would fail with EACCES).
  const { stdout: user } = await podman('exec', containers[0]!, 'id', '-un');
  expect(user.trim()).toBe('node');
  const { stdout: owner } = await podman('run', '--rm', image, 'stat', '-c', '%U', '/app/.local/out');
  expect(owner.trim()).toBe('node');

  try {
    for (const [service, port] of Object.entries(ports))
      await waitFor(
        `${service} in its container to be ready`,
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        // Generous: the first run on a machine builds the image just before, and the control plane
        // migrates a new database before it listens.
        240_000,
        500,
      );
  } catch (error) {
    // What the services printed is the only account of why one did not come up.
    const logs = await Promise.all(
      containers.map(async (name) => {
        const { stdout, stderr } = await podman('logs', '--tail', '30', name).catch((failed: Error) => ({
          stdout: '',
          stderr: failed.message,
        }));
        return `--- ${name}\n${stdout}${stderr}`;
      }),
    );
    throw new Error(`${(error as Error).message}\n${logs.join('\n')}`);
  }

  const response = await fetch(`http://127.0.0.1:${ports.ingest}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'image.signup', value: 1, dimensions: { plan: 'pro' } }),
  });
  expect(response.status).toBe(202);
  const { ids } = (await response.json()) as { ids: string[] };

  const { stdout: mountpoint } = await podman('volume', 'inspect', volume, '--format', '{{.Mountpoint}}');
  const eventsFile = join(mountpoint.trim(), 'events.jsonl');
  const line = await waitFor(
    'the event in the named volume',
    async () =>
      existsSync(eventsFile) &&
      readFileSync(eventsFile, 'utf8')
        .split('\n')
        .find((text) => text.includes(ids[0]!)),
    60_000,
  );
  expect(JSON.parse(line)).toMatchObject({ id: ids[0], name: 'image.signup', value: 1, dimensions: { plan: 'pro' } });
}, 420_000);

test('on its own, the image is in production mode: without its keys a service refuses to start', async () => {
  const answer = await podman('run', '--rm', '--network', 'host', image, 'node', 'router/src/main.ts').then(
    () => ({ code: 0, output: '' }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code,
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  );
  expect(answer.code).toBe(78);
  expect(answer.output).toMatch(/router refuses to start in production mode/);
  expect(answer.output).toMatch(/controlPlane\.secrets\.keys is required in production mode/);
}, 120_000);
