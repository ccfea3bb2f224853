import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/settings.js';

/**
 * The data folder holds the embedded database (password hashes, sessions, refresh tokens, audit
 * rows) and secrets.json: only the account the IdP runs as may enter it.
 * Red-team (operator round): DATA_DIR was created 0755 and PGlite's files in DATA_DIR/pg 0666, so
 * any local user read the password hashes and could overwrite table files.
 */

/** Group and others: none of their bits may be set on anything in the data folder. */
const OTHERS = 0o077;

/** A path that was open to group or others, with its mode before; `fixed` false when chmod was refused. */
export interface LoosePath {
  path: string;
  mode: string;
  fixed: boolean;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * chmod, or false when the path is not ours to change (a volume owned by root with a group the IdP
 * runs in, as Kubernetes' fsGroup gives): the start goes on and the warning names it.
 */
function tighten(p: string, mode: number): boolean {
  try {
    chmodSync(p, mode);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') return false;
    throw err;
  }
}

/** Creates `dir` (and missing parents) 0700; an existing one open to others is set 0700 and reported. */
export function ensurePrivateDir(dir: string): LoosePath[] {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!lstatSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (err) {
    // One line naming the setting (red-team: a DATA_DIR that was a file gave a stack trace).
    throw new ConfigError('environment', 'DATA_DIR', `${dir} cannot be used as the data folder (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const mode = lstatSync(dir).mode;
  if ((mode & OTHERS) === 0) return [];
  return [{ path: dir, mode: octal(mode), fixed: tighten(dir, 0o700) }];
}

/**
 * Takes group and other bits off everything under `dir` (symlinks are left alone: chmod would follow
 * them out of the folder). PGlite unpacks a new database with its files 0666 whatever the umask,
 * and recycles old WAL segments by renaming them, so a mode once loose stays loose until fixed here.
 */
export function tightenTree(dir: string): LoosePath[] {
  if (!existsSync(dir)) return [];
  const loose: LoosePath[] = [];
  const visit = (p: string) => {
    const st = readable(() => lstatSync(p));
    if (!st || st.isSymbolicLink()) return;
    if (st.mode & OTHERS) loose.push({ path: p, mode: octal(st.mode), fixed: tighten(p, st.mode & 0o700) });
    if (st.isDirectory()) for (const name of readable(() => readdirSync(p)) ?? []) visit(path.join(p, name));
  };
  visit(dir);
  return loose;
}

/**
 * What a look at a path gives, or null when it is not ours to read or has gone meanwhile (red-team:
 * a volume's root-owned lost+found stopped the start with EACCES and a stack trace).
 */
function readable<T>(look: () => T): T | null {
  try {
    return look();
  } catch (err) {
    if (['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  }
}

/**
 * Files this process creates from now on are private (umask 077). The embedded PostgreSQL creates
 * some files with mode 0666 and relies on the umask, as a real postmaster does (it sets 077 itself).
 * Nothing the IdP writes needs to be read by another account. A worker thread may not change the
 * umask: there the tree is still tightened at open.
 */
export function privateUmask(): void {
  try {
    process.umask(process.umask(OTHERS) | OTHERS);
  } catch {
    // ERR_WORKER_UNSUPPORTED_OPERATION in a worker thread.
  }
}

/**
 * The data folder made private before anything is opened: DATA_DIR 0700, and everything in it
 * tightened: an embedded database left by an earlier version (DATA_DIR/pg, files 0666), and the
 * files beside it (secrets.json, demo-password, server.json: red-team, a folder copied in with
 * them 0644 kept them so, and the warning did not name them). Returns what was open to others.
 * Other folders in it are not entered.
 */
export function privateDataFolder(dataDir: string): LoosePath[] {
  const folder = ensurePrivateDir(dataDir);
  // What the IdP keeps there: the database's tree, and the files beside it (not other folders an
  // operator or the volume keeps there, such as lost+found, which are left as they are).
  const beside = (readable(() => readdirSync(dataDir)) ?? []).flatMap((name) => {
    const p = path.join(dataDir, name);
    const st = name === 'pg' ? null : readable(() => lstatSync(p));
    if (!st?.isFile() || !(st.mode & OTHERS)) return [];
    return [{ path: p, mode: octal(st.mode), fixed: tighten(p, st.mode & 0o700) }];
  });
  return [...folder, ...beside, ...tightenTree(path.join(dataDir, 'pg'))];
}

/** The start-up warning's fields: how many paths, how many could not be changed, and the first few (a database has about a thousand files). */
export function describeLoose(loose: LoosePath[]): { count: number; unfixed: number; paths: LoosePath[] } {
  const unfixed = loose.filter((l) => !l.fixed);
  return { count: loose.length, unfixed: unfixed.length, paths: [...unfixed, ...loose.filter((l) => l.fixed)].slice(0, 5) };
}
