import path from 'node:path';
import { readPidFile, writePidFile } from '../storage/pid-file.js';

/**
 * Where the running server is reached (issue 16, item 9): `npm start` records its issuer in the
 * data folder, and the admin CLI, unless ISSUER is set for it too, prints its links (enrollment,
 * /account) with that issuer instead of its own default `http://localhost:$PORT`, which names the
 * wrong port whenever the server was started with another PORT.
 */
const fileOf = (dataDir: string) => path.join(dataDir, 'server.json');

/** Records this process's issuer; returns the function that removes the record (at stop). */
export function recordRunningIssuer(dataDir: string, issuer: string): () => void {
  return writePidFile(fileOf(dataDir), { issuer });
}

/** The issuer of a live server recorded in `dataDir`, or null. */
export function runningIssuer(dataDir: string): string | null {
  const issuer = readPidFile(fileOf(dataDir))?.issuer;
  return typeof issuer === 'string' && /^https?:\/\//.test(issuer) ? issuer : null;
}

/** The issuer the CLI names: ISSUER when set for it, else the running server's, else its own default. */
export function issuerForCli(env: NodeJS.ProcessEnv, dataDir: string, fallback: string): string {
  return env.ISSUER ? fallback : runningIssuer(dataDir) ?? fallback;
}
