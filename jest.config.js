import { availableParallelism } from 'node:os';

/** Jest runs the TypeScript sources as ESM through SWC, which does not type-check: npm run typecheck does. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60000,
  // One and a half workers per core (3 on the 2-core CI machine): many suites spend most of their time
  // waiting (real Redis failovers, spawned IdP processes, Chromium, long-polls), so a third worker uses
  // the idle CPU two leave (measured: CI's main run 2 workers vs 3, in .ci/README or the commit).
  maxWorkers: Math.max(2, Math.floor(availableParallelism() * 1.5)),
};
