import { createLogger, enforceDeploymentMode, loadSettings, runService } from '@muxly/common';
import { startControlPlane } from './service.ts';

// `npm start -w control-plane`: the control-plane service (REST API, config publisher).
// Settings are read inside start() so a bad setting exits with status 78 and names the setting.
const bootLogger = createLogger({ service: 'control-plane' });
runService({
  name: 'control-plane',
  logger: bootLogger,
  start: async () => {
    const settings = loadSettings();
    const logger = createLogger({ service: 'control-plane', level: settings.log.level });
    enforceDeploymentMode(settings, 'control-plane', logger);
    return startControlPlane({ settings, logger });
  },
});
