import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  createMetricsRegistry,
  envNameToPath,
  handleHealthRequest,
  loadSettings,
  productionModeProblems,
  type MuxlySettings,
} from '@muxly/common';
import { MuxlySettings as SettingsSchema } from '@muxly/schemas';
import { ROOT } from '../support/services.ts';

// No cluster runs here, so the manifests are checked for everything short of applying them:
// each overlay renders with kustomize, every object validates against the Kubernetes schemas,
// and what the pods are told (commands, ports, probes, settings) matches the services' code.

const KUBERNETES = join(ROOT, 'deploy', 'kubernetes');
const OVERLAYS = ['aws', 'gcp'] as const;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean };
}

function render(overlay: string): K8sObject[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', join(KUBERNETES, 'overlays', overlay)], { encoding: 'utf8' });
  } catch (error) {
    throw new Error(
      `kubectl kustomize failed for the ${overlay} overlay (${(error as Error).message}); kubectl (1.27+) must be on PATH`,
    );
  }
  return parseAllDocuments(text).map((document) => document.toJSON() as K8sObject);
}

/** kubernetes-models/<group>/<version>/<Kind>, or kubernetes-models/<version>/<Kind> for the core group. */
async function validateObject(object: K8sObject): Promise<void> {
  const path = `kubernetes-models/${object.apiVersion}/${object.kind}`;
  const module = (await import(path)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (!Model) throw new Error(`no Kubernetes schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

// Where each service's code listens and which file runs it.
const SERVICES = {
  'muxly-ingest': { main: 'ingest/src/main.ts', port: (s: MuxlySettings) => s.ingest.http.port },
  'muxly-transformer': { main: 'transformer/src/main.ts', port: (s: MuxlySettings) => s.transformer.health.port },
  'muxly-router': { main: 'router/src/main.ts', port: (s: MuxlySettings) => s.router.health.port },
  'muxly-control-plane': { main: 'control-plane/src/main.ts', port: (s: MuxlySettings) => s.controlPlane.http.port },
} as const;

const envFile = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
const exampleSecrets = envFile(readFileSync(join(KUBERNETES, 'secrets.example.env'), 'utf8'));

function schemaHasPath(path: string[]): boolean {
  let node = SettingsSchema as unknown as { properties?: Record<string, unknown> };
  for (const key of path) {
    const next = node.properties?.[key];
    if (!next) return false;
    node = next as typeof node;
  }
  return true;
}

test('the validator refuses an object that is not valid Kubernetes', async () => {
  await expect(
    validateObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two' } }),
  ).rejects.toThrow();
});

describe.each(OVERLAYS)('the %s overlay', (overlay) => {
  const objects = render(overlay);
  const byKind = (kind: string) => objects.filter((object) => object.kind === kind);
  const workloads = [...byKind('Deployment'), ...byKind('Job')];
  const podSpec = (object: K8sObject) => (object.spec as { template: { spec: PodSpec } }).template.spec;
  const configMap = (prefix: string) => byKind('ConfigMap').find((map) => map.metadata.name.startsWith(prefix))!;
  const env = { ...configMap('muxly-env').data, ...exampleSecrets };
  // The settings file exactly as the pods get it from the ConfigMap, read by the real loader.
  const settingsPath = join(mkdtempSync(join(tmpdir(), `muxly-k8s-${overlay}-`)), 'muxly.yaml');
  writeFileSync(settingsPath, configMap('muxly-settings').data!['muxly.yaml']!);
  const settings = () => loadSettings({ file: settingsPath, env });

  test('every rendered object validates against the Kubernetes schemas', async () => {
    expect(objects.length).toBeGreaterThan(15);
    for (const object of objects) {
      await expect(validateObject(object).then(() => object.metadata.name)).resolves.toBe(object.metadata.name);
    }
  });

  test('the settings file and the environment are accepted by the services loader', () => {
    const loaded = settings();
    expect(loaded.topics.replicationFactor).toBe(3);
    expect(loaded.kafka.ssl).toBe(true);
    expect(loaded.kafka.sasl?.password).toBe(exampleSecrets.MUXLY_KAFKA__SASL__PASSWORD);
    expect(loaded.controlPlane.database.migrateOnStart).toBe(false);
  });

  test('the pods run in production mode, which refuses the placeholder secrets of the example', () => {
    const loaded = settings();
    expect(loaded.mode).toBe('production');
    expect(productionModeProblems(loaded, 'control-plane').join('\n')).toMatch(
      /controlPlane\.auth\.serviceToken is a published development value[^]*controlPlane\.secrets\.keys\.0\.key is a published development key/,
    );
  });

  test('every MUXLY_ variable names a real setting', () => {
    const names = Object.keys(env).filter((name) => name.startsWith('MUXLY_'));
    expect(names.length).toBeGreaterThan(5);
    for (const name of names)
      expect({ name, known: schemaHasPath(envNameToPath(name)) }).toEqual({ name, known: true });
  });

  test('each service runs its own main file, on the port its settings give, with the probes its health server answers', async () => {
    const loaded = settings();
    for (const [name, service] of Object.entries(SERVICES)) {
      const deployment = byKind('Deployment').find((object) => object.metadata.name === name);
      expect({ name, found: Boolean(deployment) }).toEqual({ name, found: true });
      const container = podSpec(deployment!).containers[0]!;
      expect(container.command?.at(-1)).toBe(service.main);
      expect(existsSync(join(ROOT, service.main))).toBe(true);
      const port = container.ports![0]!;
      expect({ name, port: port.containerPort }).toEqual({ name, port: service.port(loaded) });
      expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: port.name });
      expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: port.name });
      const service_ = byKind('Service').find((object) => object.metadata.name === name);
      expect((service_!.spec as { ports: { port: number }[] }).ports[0]!.port).toBe(port.containerPort);
    }
    // The health server answers both probe paths.
    for (const path of ['/healthz', '/readyz']) {
      let status = 0;
      const response = { writeHead: (code: number) => (status = code), end: () => undefined };
      const handled = await handleHealthRequest(
        { method: 'GET', url: path } as IncomingMessage,
        response as unknown as ServerResponse,
        { registry: createMetricsRegistry('k8s-test'), readiness: {} },
      );
      expect({ path, handled, status }).toEqual({ path, handled: true, status: 200 });
    }
  });

  test('pods run as non-root with read-only root file systems, and read the settings and secrets', () => {
    for (const workload of workloads.filter((object) => object.metadata.name.startsWith('muxly-'))) {
      const spec = podSpec(workload);
      expect({ name: workload.metadata.name, nonRoot: spec.securityContext?.runAsNonRoot }).toEqual({
        name: workload.metadata.name,
        nonRoot: true,
      });
      for (const container of spec.containers.filter((c) => c.image.includes('muxly'))) {
        expect(container.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
        expect(container.env).toContainEqual({ name: 'MUXLY_CONFIG', value: '/etc/muxly/muxly.yaml' });
        expect(container.envFrom?.map((source) => source.secretRef?.name ?? source.configMapRef?.name)).toEqual([
          expect.stringMatching(/^muxly-env-/),
          'muxly-secrets',
        ]);
      }
    }
  });

  test('the control plane waits for the migration Job, which runs the migrations', () => {
    const migrate = byKind('Job').find((object) => object.metadata.name === 'muxly-migrate')!;
    expect(podSpec(migrate).containers[0]!.command).toEqual(['node', 'control-plane/src/db/migrate.cli.ts']);
    const controlPlane = byKind('Deployment').find((object) => object.metadata.name === 'muxly-control-plane')!;
    const wait = podSpec(controlPlane).initContainers!.find((c) => c.name === 'wait-for-migrations')!;
    expect(wait.command).toEqual(['node', 'control-plane/src/db/migrate.cli.ts', '--wait', '600']);
  });

  test('disruption budgets cover every service, and ingest scales on CPU', () => {
    const budgets = byKind('PodDisruptionBudget').map((object) => object.metadata.name);
    for (const name of Object.keys(SERVICES)) expect(budgets).toContain(name);
    const autoscaler = byKind('HorizontalPodAutoscaler')[0]!;
    expect(autoscaler.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'muxly-ingest' } });
  });
});
