import path from 'node:path';
import { readPidFile, writePidFile } from './pid-file.js';

/**
 * Embedded PGlite is one process's database: a second process opening the same folder would
 * overwrite its changes. The IdP holds this lock while it runs; the admin CLI checks it.
 */
export function pgliteLockFile(dataDir: string): string {
  return path.join(dataDir, 'pg.lock');
}

/** The pid holding the embedded database, if a live process does. */
export function pgliteHolder(dataDir: string): number | null {
  return readPidFile(pgliteLockFile(dataDir))?.pid ?? null;
}

export function takePgliteLock(dataDir: string): () => void {
  const holder = pgliteHolder(dataDir);
  if (holder) throw new Error(`the embedded database in ${dataDir} is in use by process ${holder}`);
  return writePidFile(pgliteLockFile(dataDir));
}
