import { BlockedAddressError } from '@muxly/common';
import type { ConnectorPlugin } from './connector.ts';
import { builtInConnectors } from './registry.ts';
import { runSync, type SyncFailedError } from './sync.ts';
import { memorySink, testContext } from './toolkit/testing/test-context.ts';

// The SaaS clients open their own sockets, so an endpoint override (meant for proxies and tests)
// must pass the outbound address guard before any request: otherwise a connector config could
// point the official client at the machine's internal network.

const internal = 'http://127.0.0.1:1';
const cases: [string, ConnectorPlugin, Record<string, unknown>, unknown][] = [
  ['hubspot', builtInConnectors.hubspot, { objectType: 'contacts', apiBaseUrl: internal }, { accessToken: 'pat' }],
  [
    'bigquery',
    builtInConnectors.bigquery,
    {
      projectId: 'p',
      query: 'SELECT 1 WHERE t > @cursor',
      cursorColumn: 't',
      mapping: { kind: 'event', name: 'x', timestampColumn: 't' },
      apiEndpoint: internal,
    },
    { accessToken: 'ya29' },
  ],
  [
    'ga4',
    builtInConnectors.ga4,
    { propertyId: '1', metrics: ['activeUsers'], apiEndpoint: internal },
    { accessToken: 'ya29' },
  ],
  [
    'custom',
    builtInConnectors.custom,
    { url: `${internal}/x`, recordSelector: '$[*]', mapping: { name: 'x', idPath: '$.id' } },
    {},
  ],
];

describe('endpoint overrides pass the outbound address guard', () => {
  it.each(cases)(
    '%s refuses an internal endpoint that the allow-list does not name',
    async (_type, connector, config, credentials) => {
      const error = (await runSync({
        connector,
        config,
        credentials,
        cursor: null,
        sink: memorySink(),
        context: testContext({ allowLoopback: false }),
      }).catch((caught: unknown) => caught)) as SyncFailedError;
      expect(error.cause).toBeInstanceOf(BlockedAddressError);
    },
  );
});
