/**
 * PGlite's initdb costs about five seconds of CPU (twenty under a loaded CI run) every time a test
 * opens an empty embedded database. The cluster it creates is the same each time, so it is made
 * once per machine and PGlite version, in the temporary folder, and each test starts from a copy
 * (about 0.1 s to copy, 0.7 s to open). What the IdP puts in it (migrations, keys, the demo user)
 * is still made by each test, as on a first start.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Db } from '../../src/storage/db.js';
import { openPglite } from '../../src/storage/pglite.js';

// The package's exports hide its package.json from resolve(); tests run from the project root.
const version = (JSON.parse(readFileSync(path.resolve('node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string }).version;
const TEMPLATE = path.join(os.tmpdir(), `pushotp-pglite-template-${version}`);

/** The path of an empty, initialised PGlite cluster (made now if this machine has none yet). */
async function template(): Promise<string> {
  if (existsSync(path.join(TEMPLATE, 'PG_VERSION'))) return TEMPLATE;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pushotp-pglite-new-'));
  const db = await PGlite.create(path.join(scratch, 'pg'));
  await db.close();
  try {
    renameSync(path.join(scratch, 'pg'), TEMPLATE);
  } catch {
    // Another worker made it first: theirs is the same.
  }
  rmSync(scratch, { recursive: true, force: true });
  if (!existsSync(path.join(TEMPLATE, 'PG_VERSION'))) throw new Error(`no PGlite template at ${TEMPLATE}`);
  return TEMPLATE;
}

/** Puts a fresh copy of the initialised cluster at `dir` (which must not exist yet). */
export async function seedPglite(dir: string): Promise<void> {
  const from = await template();
  mkdirSync(path.dirname(dir), { recursive: true });
  cpSync(from, dir, { recursive: true });
}

/** An embedded PGlite database of its own (unmigrated), removed when closed. */
export async function openScratchPglite(): Promise<Db> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pushotp-pglite-'));
  const dir = path.join(root, 'pg');
  await seedPglite(dir);
  const db = await openPglite(dir);
  return { ...db, close: async () => { await db.close(); rmSync(root, { recursive: true, force: true }); } };
}
