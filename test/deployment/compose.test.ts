import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadSettings } from '@muxly/common';
import { ROOT } from '../support/services.ts';

// No Docker engine runs here, so the compose file is checked for what would break `docker
// compose up`: structure, references, ports that match the native stack, and Muxly settings
// that the services' own loader accepts.

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  name: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const muxlyServices = ['ingest', 'transformer', 'router', 'control-plane'];

test('only the keys compose knows at the top level', () => {
  for (const key of Object.keys(compose))
    expect(['name', 'services', 'volumes', 'networks', 'configs', 'secrets']).toContain(
      key.startsWith('x-') ? 'services' : key,
    );
});

test('the services of the native stack are all there, each with an image or a build', () => {
  expect(Object.keys(services).sort()).toEqual([
    'control-plane',
    'ingest',
    'kafka',
    'keycloak',
    'postgres',
    'registry',
    'router',
    's3',
    'transformer',
  ]);
  for (const [name, service] of Object.entries(services))
    expect({ name, hasImage: Boolean(service.image ?? service.build) }).toEqual({ name, hasImage: true });
});

test('host ports match the native stack (docs/architecture.md)', () => {
  const hostPorts = Object.fromEntries(
    Object.entries(services).map(([name, service]) => [
      name,
      (service.ports ?? []).map((port) => Number(port.split(':').at(-2))),
    ]),
  );
  expect(hostPorts).toEqual({
    kafka: [9092],
    registry: [8085],
    postgres: [5432],
    keycloak: [8180],
    s3: [9090],
    ingest: [8080],
    transformer: [9101],
    router: [9102],
    'control-plane': [8081],
  });
});

test('every port is published on 127.0.0.1 only: the stack runs development secrets', () => {
  const published = Object.values(services).flatMap((service) => service.ports ?? []);
  expect(published.length).toBeGreaterThan(0);
  expect(published.filter((port) => !port.startsWith('127.0.0.1:'))).toEqual([]);
});

test('the stack runs in local mode, the image on its own in production mode', () => {
  for (const name of muxlyServices) expect(services[name]!.environment?.MUXLY_MODE).toBe('local');
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^ENV MUXLY_MODE=production$/m);
  expect(dockerfile).not.toMatch(/MUXLY_CONFIG/);
});

test('dependencies, named volumes and mounted files exist', () => {
  for (const service of Object.values(services)) {
    for (const dependency of Object.keys(service.depends_on ?? {})) expect(Object.keys(services)).toContain(dependency);
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (source.startsWith('./')) expect(existsSync(join(ROOT, source))).toBe(true);
      else expect(Object.keys(compose.volumes ?? {})).toContain(source);
    }
  }
});

test.each(muxlyServices)('%s runs an entry point that exists, with settings its loader accepts', (name) => {
  const service = services[name]!;
  expect(service.command?.slice(0, 1)).toEqual(['node']);
  expect(existsSync(join(ROOT, service.command![1]!))).toBe(true);
  const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value)]));
  const settings = loadSettings({ env: { ...env, MUXLY_CONFIG: join(ROOT, 'config/local.yaml') } });
  expect(settings.kafka.brokers).toEqual(['kafka:19092']);
  expect(settings.schemaRegistry.url).toBe('http://registry:8085/apis/ccompat/v7');
  // Inside a container the listener must not be bound to loopback, or the port mapping reaches nothing.
  const listener = {
    ingest: settings.ingest.http,
    transformer: settings.transformer.health,
    router: settings.router.health,
    'control-plane': settings.controlPlane.http,
  }[name]!;
  expect(listener.host).toBe('0.0.0.0');
  expect(service.ports).toEqual([`127.0.0.1:${listener.port}:${listener.port}`]);
  expect(settings.mode).toBe('local');
});
