export * from './address-guard.ts';
export * from './connect-guard.ts';
export * from './status-errors.ts';
export * from './client.ts';
export * from './security-headers.ts';
export * from './api-docs.ts';
