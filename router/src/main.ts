import { createLogger, enforceDeploymentMode, loadSettings, runService } from '@muxly/common';
import { startRouter } from './service.ts';

runService({
  name: 'router',
  logger: createLogger({ service: 'router' }),
  start: async () => {
    const settings = loadSettings();
    const logger = createLogger({ service: 'router', level: settings.log.level });
    enforceDeploymentMode(settings, 'router', logger);
    return startRouter(settings, logger);
  },
});
