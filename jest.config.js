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
  // the CPU two leave idle. Measured on the 2-core machine (CI=true .ci/run): with two workers the
  // main run took about 17 min and the whole CI 19.5-20; with three, 12.5 and 14.5 (3,480 passed).
  // Since then the suite has grown to 2,675 tests in the main run and is CPU-bound with three
  // (18 minutes, the whole CI 20m17s on 2026-12-05): a fourth worker would only share the same cores.
  // Measured again with the worker recycling below (2026-12-06, 2,732 tests, CI=true, one after the
  // other on one machine): three workers 827 s, four 848 s.
  maxWorkers: Math.max(2, Math.floor(availableParallelism() * 1.5)),
  // A worker is replaced once its heap passes 400 MB after a suite. Each suite's ES modules (the whole
  // IdP: oidc-provider, zod, jose, ...) live in a VM context of their own, and a worker that had run
  // some 90 suites held over 2 GB, so that every full garbage collection marked them all: the same
  // suites took up to four times the CPU late in a run as alone. Measured on the 2-core machine
  // (2026-12-06, the same 2,710 tests): the main run 16m23s and 26 CPU-minutes without the limit,
  // 13m19s and 19.4 with it (a new worker costs about a second).
  workerIdleMemoryLimit: '400MB',
  // Builds what is stale in dist/, the page scripts and the PWA before any suite (spawned IdPs and CLIs run dist/).
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  // Longest suites first, from the durations committed beside it (a clean clone has no Jest cache).
  testSequencer: '<rootDir>/test/support/sequencer.mjs',
};
