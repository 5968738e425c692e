export { startIngest, type IngestService } from './service.ts';
export { hashApiKey } from './auth/api-keys.ts';
