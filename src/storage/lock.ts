import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Embedded PGlite is one process's database: a second process opening the same folder would
 * overwrite its changes. The IdP holds this lock while it runs; the admin CLI checks it.
 */
export function pgliteLockFile(dataDir: string): string {
  return path.join(dataDir, 'pg.lock');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding the embedded database, if a live process does. */
export function pgliteHolder(dataDir: string): number | null {
  const file = pgliteLockFile(dataDir);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8'));
  return Number.isInteger(pid) && pid !== process.pid && alive(pid) ? pid : null;
}

export function takePgliteLock(dataDir: string): () => void {
  const holder = pgliteHolder(dataDir);
  if (holder) throw new Error(`the embedded database in ${dataDir} is in use by process ${holder}`);
  const file = pgliteLockFile(dataDir);
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}
