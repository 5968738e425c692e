export { startTransformer, type TransformerService } from './service.ts';
