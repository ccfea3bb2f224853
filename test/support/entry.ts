import type { ChildProcess } from 'node:child_process';
/*
 * The programs an operator runs, as `npm start`, `npm run admin` and `npm run radius` run them: the
 * compiled server in dist/ (test/support/global-setup.mjs builds what is stale before any suite
 * runs, as `npm start`'s prestart does). A spawned process loads compiled JavaScript instead of
 * compiling the TypeScript again through tsx: about 1.3 s of CPU a start instead of 2.4.
 */
export const IDP_MAIN = 'dist/src/main.js';
export const ADMIN_CLI = 'dist/src/cli/main.js';
export const RADIUS_MAIN = 'dist/src/radius/main.js';

/** Ends each child process (SIGTERM) and waits until every one has exited. */
export async function endAll(procs: readonly ChildProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) { resolve(); return; }
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  })));
}
