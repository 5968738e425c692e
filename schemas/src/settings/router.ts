import { Type } from '@sinclair/typebox';
import { HttpListener, Section } from './shared.ts';

export const RouterSettings = Section({
  health: HttpListener(9102, 'Health and metrics endpoints.'),
  retry: Section({
    maxAttempts: Type.Integer({
      minimum: 1,
      default: 10,
      description: 'Attempts per event before it is dead-lettered.',
    }),
    initialDelayMs: Type.Integer({ minimum: 1, default: 500 }),
    maxDelayMs: Type.Integer({ minimum: 1, default: 60_000 }),
  }),
  destinationCheckIntervalSeconds: Type.Integer({
    minimum: 1,
    default: 30,
    description:
      "How often each destination's outbound check runs in the background; /readyz answers from the last result, so probes never cause requests to the receivers.",
  }),
  forbiddenDatabases: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description:
      "Connection strings (postgres://host:port/database, mysql://host:port) of databases no database destination may write to, besides the control plane's own controlPlane.database.url, which is always protected. Compared by resolved address, port and database; credentials in them are ignored. Set it to the control plane's database when the router runs with settings of its own.",
  }),
  groupIdPrefix: Type.String({
    default: 'muxly-router.',
    description:
      'Each destination keeps its position in the group <prefix><destination id>; the instances share the group <prefix without its trailing dot> to split the events topic.',
  }),
  liveReports: Section(
    {
      enabled: Type.Boolean({
        default: true,
        description:
          'Publish a compact report of every delivery outcome to the deliveries topic, for the live tap (best-effort: never delays delivery).',
      }),
      flushIntervalMs: Type.Integer({
        minimum: 10,
        maximum: 10_000,
        default: 100,
        description: 'Reports are sent in one batch at most this often.',
      }),
      maxBuffered: Type.Integer({
        minimum: 100,
        default: 10_000,
        description:
          'Reports waiting to be sent at most; more are dropped (counted in muxly_router_live_reports_dropped_total).',
      }),
    },
    'Live delivery reports for the tap (docs/operations.md "Live tap").',
  ),
});
