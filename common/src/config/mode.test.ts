import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadSettings } from './settings.ts';
import { productionModeProblems, type MuxlyServiceName } from './mode.ts';

const config = (name: string) => fileURLToPath(new URL(`../../../config/${name}`, import.meta.url));
const signingKey = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const ownSecrets = {
  MUXLY_CONTROL_PLANE__AUTH__SIGNING_KEY: signingKey,
  MUXLY_CONTROL_PLANE__SECRETS__KEYS: JSON.stringify([{ id: 'k1', key: randomBytes(32).toString('base64') }]),
  MUXLY_CONTROL_PLANE__AUTH__SERVICE_TOKEN: randomBytes(48).toString('base64'),
};
const SERVICES: MuxlyServiceName[] = ['ingest', 'transformer', 'router', 'control-plane'];

test('local mode is the default and accepts the development settings', () => {
  const settings = loadSettings({ file: config('local.yaml'), env: {} });
  expect(settings.mode).toBe('local');
  expect(loadSettings({ env: {} }).mode).toBe('local');
  for (const service of SERVICES) expect(productionModeProblems(settings, service)).toEqual([]);
});

test('config/local.yaml in production mode: every service names each published secret', () => {
  const settings = loadSettings({ file: config('local.yaml'), env: { MUXLY_MODE: 'production' } });
  for (const service of SERVICES) {
    const problems = productionModeProblems(settings, service).join('\n');
    expect(problems).toMatch(/controlPlane\.auth\.serviceToken is a published development value/);
    expect(problems).toMatch(/controlPlane\.auth\.bootstrapAdmin\.password is the published development password/);
    expect(problems).toMatch(/ingest\.apiKeys\.0\.hash is the published development ingest key/);
  }
});

test('each service requires the keys it needs', () => {
  const settings = loadSettings({ env: { MUXLY_MODE: 'production' } });
  const named = (service: MuxlyServiceName) =>
    productionModeProblems(settings, service).map((problem) => problem.split(' ')[0]);
  expect(named('control-plane')).toEqual(['controlPlane.auth.signingKey', 'controlPlane.secrets.keys']);
  expect(named('ingest')).toEqual(['controlPlane.secrets.keys']);
  expect(named('router')).toEqual(['controlPlane.secrets.keys']);
  expect(named('transformer')).toEqual([]);
});

test('the development encryption key and the examples published key are refused even when set explicitly', () => {
  const published = ['fBtrEZWg5l9GHAnUfkGmBKNOfrxH7xZLqbwl5JkaBHY=', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='];
  const settings = loadSettings({
    env: {
      MUXLY_MODE: 'production',
      MUXLY_CONTROL_PLANE__SECRETS__KEYS: JSON.stringify(published.map((key, index) => ({ id: `k${index}`, key }))),
    },
  });
  expect(productionModeProblems(settings, 'router')).toEqual([
    expect.stringMatching(/^controlPlane\.secrets\.keys\.0\.key is a published development key/),
    expect.stringMatching(/^controlPlane\.secrets\.keys\.1\.key is a published development key/),
  ]);
});

test('config/production.example.yaml passes once the secrets it lists are given', () => {
  const example = loadSettings({ file: config('production.example.yaml'), env: {} });
  expect(example.mode).toBe('production');
  expect(productionModeProblems(example, 'control-plane').length).toBe(2);
  const settings = loadSettings({ file: config('production.example.yaml'), env: ownSecrets });
  for (const service of SERVICES) expect(productionModeProblems(settings, service)).toEqual([]);
});
