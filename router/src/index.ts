export { startRouter, type RouterService } from './service.ts';
