import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A file in the data folder that names the process which wrote it, with what it records (the
 * embedded database's lock, the running server's issuer). A reader trusts it only while that
 * process lives: a crash leaves the file behind, and a stale file must not block or mislead.
 */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes `{ ...record, pid }` for this process; returns the function that removes the file (at stop). */
export function writePidFile(file: string, record: Record<string, unknown> = {}): () => void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Private as the rest of the data folder (README, Security).
  writeFileSync(file, JSON.stringify({ ...record, pid: process.pid }), { mode: 0o600 });
  return () => rmSync(file, { force: true });
}

/** The record, when another process that is still alive wrote it; null when absent, unreadable, ours or stale. */
export function readPidFile(file: string): Record<string, unknown> & { pid: number } | null {
  if (!existsSync(file)) return null;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    // A bare number: a lock file written before the record became JSON.
    const record = (typeof parsed === 'number' ? { pid: parsed } : parsed) as Record<string, unknown> | null;
    const pid = record?.pid;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
    return pid !== process.pid && alive(pid) ? { ...record, pid } : null;
  } catch {
    return null;
  }
}
