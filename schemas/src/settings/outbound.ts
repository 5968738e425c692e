import { Type } from '@sinclair/typebox';
import { Section } from './shared.ts';

/**
 * What the destinations and connectors an editor configures may touch outside the process. These
 * are operator settings: nothing an editor writes through the control-plane API can widen them.
 */
export const OutboundSettings = Section(
  {
    allowAddresses: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Internal addresses (CIDRs, addresses, host names or *.suffixes) that destinations, connectors and connection tests may reach: every private, loopback, link-local, unique-local and metadata address not named here is refused, in the router, in ingest and in the control plane. In local mode loopback (127.0.0.0/8, ::1) is allowed as well.',
    }),
    fileBaseDirectory: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Folder the file destination writes under (its paths are relative to it; nothing outside it is created, written or rotated). Default: .local/out (relative to the working directory) in local mode, /var/lib/muxly/files in production mode.',
      }),
    ),
  },
  'What destinations and connectors configured through the API may reach: operator settings only.',
);
