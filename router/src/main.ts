import { createLogger, loadSettings, runService } from '@muxly/common';
import { startRouter } from './service.ts';

runService({
  name: 'router',
  logger: createLogger({ service: 'router' }),
  start: async () => {
    const settings = loadSettings();
    return startRouter(settings, createLogger({ service: 'router', level: settings.log.level }));
  },
});
