// Three tiers, each a jest project (docs/development.md "Tests"):
//   unit         *.test.ts beside the code, no services;
//   integration  *.integration.test.ts against the real services started by deploy/local;
//   e2e          test/e2e/*.e2e.test.ts, the whole stack as processes.
// Jest only transpiles (SWC, ES modules); `npm run typecheck` (tsc) is the type gate.
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2024' },
      module: { type: 'es6' },
    },
  ],
};

const shared = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/.local/'],
};

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/*/src/**/*.test.ts',
        '<rootDir>/*/plugins/**/*.test.ts',
        '<rootDir>/test/deployment/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['\\.integration\\.test\\.ts$', '\\.e2e\\.test\\.ts$', '/node_modules/'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/*/src/**/*.integration.test.ts', '<rootDir>/*/test/**/*.integration.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts-e2e.ts'],
    },
  ],
};
