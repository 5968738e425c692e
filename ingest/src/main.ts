import { createLogger, loadSettings, runService } from '@muxly/common';
import { startIngest } from './service.ts';

const bootLogger = createLogger({ service: 'ingest' });
runService({
  name: 'ingest',
  logger: bootLogger,
  start: async () => {
    const settings = loadSettings();
    return startIngest(settings, createLogger({ service: 'ingest', level: settings.log.level }));
  },
});
