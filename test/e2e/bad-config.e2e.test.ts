import { ServiceProcess } from '../support/services.ts';

test.each([
  [
    'ingest',
    { MUXLY_INGEST__HTTP__PORT: 'eighty' },
    /ingest\.http\.port must be integer \(from environment variable MUXLY_INGEST__HTTP__PORT\)/,
  ],
  ['transformer', { MUXLY_TRANSFORMER__COMMIT_INTERVAL_MS: '0' }, /transformer\.commitIntervalMs must be >= 1/],
  ['router', { MUXLY_ROUTER__RETRY__MAX_ATTEMPTS: 'lots' }, /router\.retry\.maxAttempts must be integer/],
  ['router', { MUXLY_KAFKA__BROKKERS: '127.0.0.1:9092' }, /kafka\.brokkers is not a known setting/],
  [
    'transformer',
    { MUXLY_CONFIG: '/nonexistent/muxly.yaml' },
    /Cannot read configuration file \/nonexistent\/muxly\.yaml/,
  ],
] as const)('%s stops at start on bad configuration (%j)', async (name, env, message) => {
  const service = new ServiceProcess(name, { ...env }).start();
  const exit = await service.exit!;
  expect(exit.code).toBe(78);
  expect(service.logs()).toMatch(message);
});
