import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkedCookieKeys, checkedKekList, ConfigError, COOKIE_KEY_MIN_LENGTH, type Settings } from '../config/settings.js';
import { ensurePrivateDir } from '../storage/private-folder.js';

/** Process-wide secrets that must never sit in the database they protect. */
export interface ProcessSecrets {
  cookieKeys: string[];
  kek: { id: string; key: Buffer }[];
  /** Where they came from, for the start-up log. */
  source: 'environment' | 'data folder' | 'generated';
}

interface SecretsFile {
  cookieKeys: string[];
  kek: { id: string; key: string }[];
}

/**
 * Cookie keys and the key-encryption key: from the environment when set (needed when several
 * instances share a database), otherwise generated once into DATA_DIR/secrets.json (mode 0600).
 */
export function loadProcessSecrets(settings: Pick<Settings, 'cookieKeys' | 'kek' | 'dataDir'>): ProcessSecrets {
  if (settings.cookieKeys && settings.kek) {
    return { cookieKeys: settings.cookieKeys, kek: settings.kek, source: 'environment' };
  }
  const file = path.join(settings.dataDir, 'secrets.json');
  let stored: SecretsFile;
  let source: ProcessSecrets['source'] = 'data folder';
  if (existsSync(file)) {
    stored = readSecretsFile(file);
  } else {
    stored = {
      cookieKeys: [randomBytes(32).toString('base64url')],
      kek: [{ id: 'k1', key: randomBytes(32).toString('base64') }],
    };
    // 0700: the folder also holds the embedded database (src/storage/private-folder.ts).
    ensurePrivateDir(settings.dataDir);
    // Whole or not at all: a start stopped while writing it left half a file (red-team).
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(stored, null, 2), { mode: 0o600 });
    chmodSync(partial, 0o600);
    renameSync(partial, file);
    source = 'generated';
  }
  return {
    // An empty list is never a set of keys (loadSettings refuses one; this guards other callers): Keygrip with none makes every cookie page a 500.
    cookieKeys: settings.cookieKeys?.length ? settings.cookieKeys : stored.cookieKeys,
    kek: settings.kek ?? stored.kek.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') })),
    source: settings.cookieKeys || settings.kek ? 'environment' : source,
  };
}

/**
 * DATA_DIR/secrets.json as this module writes it, or a ConfigError saying what is wrong with it
 * (red-team: a truncated file stopped the start with a stack trace; an empty list of cookie keys
 * started, and every page that sets a cookie answered 500). No key of it is quoted (a key id may be).
 */
function readSecretsFile(file: string): SecretsFile {
  const refuse = (why: string) => new ConfigError('environment', 'DATA_DIR', `${file} ${why}: restore it from a backup (a new installation may remove it to have new secrets made)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw refuse(err instanceof SyntaxError ? 'is not whole JSON' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const { cookieKeys, kek } = (parsed ?? {}) as Partial<Record<keyof SecretsFile, unknown>>;
  // The same rules as COOKIE_KEYS and KEK (src/config/settings.ts).
  try {
    checkedCookieKeys(Array.isArray(cookieKeys) ? cookieKeys : []);
  } catch {
    throw refuse(`holds no cookie keys of at least ${COOKIE_KEY_MIN_LENGTH} characters`);
  }
  try {
    checkedKekList(Array.isArray(kek) ? kek.map((k) => ({ id: k?.id, key: k?.key })) : []);
  } catch (err) {
    throw refuse(`holds no valid key-encryption keys (${(err as Error).message.split(/: |, e\.g\./)[0]})`);
  }
  return { cookieKeys: cookieKeys as string[], kek: kek as SecretsFile['kek'] };
}
