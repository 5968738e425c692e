import { Type } from '@sinclair/typebox';
import { Section } from './shared.ts';

/**
 * What the destinations and connectors an editor configures may touch outside the process. These
 * are operator settings: nothing an editor writes through the control-plane API can widen them.
 */
export const OutboundSettings = Section(
  {
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
