export * from './events/unified-event.ts';
export * from './events/raw-envelope.ts';
export * from './settings/index.ts';
export * from './rules/index.ts';
export {
  compileGetter,
  compileSelector,
  parsePath,
  parseSelector,
  PathSyntaxError,
  type PathSegment,
} from './json-path.ts';
export * from './events/job-messages.ts';
export * from './events/replay.ts';
export * from './templates/example.ts';
export * from './templates/connection-test.ts';
