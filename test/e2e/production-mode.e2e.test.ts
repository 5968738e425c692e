import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  freePort,
  KAFKA_BROKER,
  REGISTRY_URL,
  requireLocalStack,
  ROOT,
  ServiceProcess,
  stopAllStartedProcesses,
  uniqueName,
  type ServiceName,
} from '../support/services.ts';

// Each service started as `npm start` starts it: in production mode the development settings of
// config/local.yaml (published with Muxly) stop it with the settings to fix; the production
// example with the operator's own keys starts.

afterAll(stopAllStartedProcesses);

const LOCAL = join(ROOT, 'config/local.yaml');
const EXAMPLE = join(ROOT, 'config/production.example.yaml');

test.each([
  [
    'control-plane',
    [
      /controlPlane\.auth\.serviceToken is a published development value/,
      /controlPlane\.auth\.bootstrapAdmin\.password is the published development password/,
      /ingest\.apiKeys\.0\.hash is the published development ingest key/,
      /controlPlane\.auth\.signingKey is required in production mode/,
      /controlPlane\.secrets\.keys is required in production mode/,
    ],
  ],
  ['ingest', [/ingest\.apiKeys\.0\.hash is the published/, /controlPlane\.secrets\.keys is required/]],
  ['router', [/controlPlane\.auth\.serviceToken is a published/, /controlPlane\.secrets\.keys is required/]],
  ['transformer', [/controlPlane\.auth\.serviceToken is a published/, /bootstrapAdmin\.password is the published/]],
] as const)('%s refuses to start in production mode with the development settings', async (name, messages) => {
  const service = new ServiceProcess(name as ServiceName, { MUXLY_CONFIG: LOCAL, MUXLY_MODE: 'production' }).start();
  const exit = await service.exit!;
  expect(exit.code).toBe(78);
  for (const message of messages) expect(service.logs()).toMatch(message);
  expect(service.logs()).toMatch(new RegExp(`${name} refuses to start in production mode`));
});

test('with its own keys, the production example starts (the router, which needs the encryption keys)', async () => {
  await requireLocalStack();
  const port = await freePort();
  const prefix = `${uniqueName('prod-')}.`;
  const router = new ServiceProcess('router', {
    MUXLY_CONFIG: EXAMPLE,
    // This machine's stack instead of the example's cluster addresses.
    MUXLY_KAFKA__BROKERS: KAFKA_BROKER,
    MUXLY_KAFKA__SSL: 'false',
    MUXLY_SCHEMA_REGISTRY__URL: REGISTRY_URL,
    MUXLY_TOPICS__PREFIX: prefix,
    MUXLY_TOPICS__REPLICATION_FACTOR: '1',
    MUXLY_ROUTER__HEALTH__HOST: '127.0.0.1',
    MUXLY_ROUTER__HEALTH__PORT: String(port),
    MUXLY_ROUTER__GROUP_ID_PREFIX: `${prefix}router.`,
    MUXLY_CONTROL_PLANE__SECRETS__KEYS: JSON.stringify([{ id: 'k1', key: randomBytes(32).toString('base64') }]),
    MUXLY_CONTROL_PLANE__AUTH__SIGNING_KEY: generateKeyPairSync('ed25519')
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString(),
  }).start();
  await router.waitUntilReady(`http://127.0.0.1:${port}/healthz`);
  expect(router.logs()).not.toMatch(/refuses to start/);
  expect((await router.stop()).code).toBe(0);
});
