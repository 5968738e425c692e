import { createLogger, loadSettings, runService } from '@muxly/common';
import { startTransformer } from './service.ts';

runService({
  name: 'transformer',
  logger: createLogger({ service: 'transformer' }),
  start: async () => {
    const settings = loadSettings();
    return startTransformer(settings, createLogger({ service: 'transformer', level: settings.log.level }));
  },
});
