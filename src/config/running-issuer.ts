import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the running server is reached (issue 16, item 9): `npm start` records its issuer in the
 * data folder, and the admin CLI, unless ISSUER is set for it too, prints its links (enrollment,
 * /account) with that issuer instead of its own default `http://localhost:$PORT`, which names the
 * wrong port whenever the server was started with another PORT.
 */
const fileOf = (dataDir: string) => path.join(dataDir, 'server.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Records this process's issuer; returns the function that removes the record (at stop). */
export function recordRunningIssuer(dataDir: string, issuer: string): () => void {
  const file = fileOf(dataDir);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify({ pid: process.pid, issuer }));
  return () => rmSync(file, { force: true });
}

/** The issuer of a live server recorded in `dataDir`, or null. */
export function runningIssuer(dataDir: string): string | null {
  const file = fileOf(dataDir);
  if (!existsSync(file)) return null;
  try {
    const { pid, issuer } = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; issuer?: unknown };
    if (typeof pid !== 'number' || typeof issuer !== 'string' || !/^https?:\/\//.test(issuer)) return null;
    return pid !== process.pid && alive(pid) ? issuer : null;
  } catch {
    return null;
  }
}

/** The issuer the CLI names: ISSUER when set for it, else the running server's, else its own default. */
export function issuerForCli(env: NodeJS.ProcessEnv, dataDir: string, fallback: string): string {
  return env.ISSUER ? fallback : runningIssuer(dataDir) ?? fallback;
}
