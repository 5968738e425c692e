import {
  createKafka,
  createLogger,
  errorMessage,
  KafkaProducer,
  loadSettings,
  SecretKeyring,
  topicNames,
} from '@muxly/common';
import { ConfigPublisher } from '../config/publisher.ts';
import { configSources } from '../config/sources.ts';
import { openDatabase } from '../db/orm.ts';
import { reencryptSecrets } from './reencrypt.ts';

// `npm run secrets:reencrypt -w control-plane`: re-encrypts every stored secret under the
// active key (controlPlane.secrets.activeKeyId), then republishes the changed objects on the
// config topic so the services receive ciphertexts they can read once the old key is removed.
const settings = loadSettings();
const logger = createLogger({ service: 'control-plane-reencrypt', level: settings.log.level });
const keyring = new SecretKeyring(settings.controlPlane.secrets);
const orm = await openDatabase(settings.controlPlane.database, logger);
let producer: KafkaProducer | null = null;
try {
  const result = await reencryptSecrets(orm, keyring);
  logger.info('secrets re-encrypted', {
    activeKeyId: keyring.activeKeyId,
    examined: result.examined,
    reencrypted: result.reencrypted.length,
  });
  if (settings.controlPlane.publishConfig && result.reencrypted.length > 0) {
    producer = new KafkaProducer(createKafka(settings.kafka, logger));
    await producer.connect();
    const publisher = new ConfigPublisher({
      orm,
      producer,
      topic: topicNames(settings.topics.prefix).config,
      sources: configSources,
      logger,
    });
    for (const { kind, id } of result.reencrypted) await publisher.notify(kind, id);
    await publisher.stop();
    if (publisher.pendingCount > 0)
      throw new Error(
        `${publisher.pendingCount} objects could not be republished; the running control plane republishes everything at its next start`,
      );
  }
} catch (error) {
  logger.error('re-encryption failed', { error: errorMessage(error) });
  process.exitCode = 1;
} finally {
  await producer?.disconnect();
  await orm.close();
}
