// Before any suite: build what is stale (the server in dist/, the page scripts, the PWA), as
// `npm start` does. Suites that spawn the IdP, the admin CLI or the RADIUS server run the compiled
// programs (test/support/entry.ts), so a suite never meets a dist/ older than src/.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function globalSetup() {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const run = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  if (run.status !== 0) throw new Error(`scripts/build-if-stale.mjs failed (exit ${run.status}): the tests need the built server`);
}
