import { createLogger, enforceDeploymentMode, loadSettings, runService } from '@muxly/common';
import { startIngest } from './service.ts';

const bootLogger = createLogger({ service: 'ingest' });
runService({
  name: 'ingest',
  logger: bootLogger,
  start: async () => {
    const settings = loadSettings();
    const logger = createLogger({ service: 'ingest', level: settings.log.level });
    enforceDeploymentMode(settings, 'ingest', logger);
    return startIngest(settings, logger);
  },
});
