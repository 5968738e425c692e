import { createLogger, enforceDeploymentMode, loadSettings, runService } from '@muxly/common';
import { startTransformer } from './service.ts';

runService({
  name: 'transformer',
  logger: createLogger({ service: 'transformer' }),
  start: async () => {
    const settings = loadSettings();
    const logger = createLogger({ service: 'transformer', level: settings.log.level });
    enforceDeploymentMode(settings, 'transformer', logger);
    return startTransformer(settings, logger);
  },
});
