import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Settings } from '../config/settings.js';
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
 * started, and every page that sets a cookie answered 500). Nothing of its content is quoted.
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
  if (!Array.isArray(cookieKeys) || cookieKeys.length === 0 || !cookieKeys.every((k) => typeof k === 'string' && k.length >= 32)) {
    throw refuse('holds no cookie keys of at least 32 characters');
  }
  const keys = Array.isArray(kek) ? kek as { id?: unknown; key?: unknown }[] : [];
  const valid = keys.length > 0 && keys.every((k) => typeof k?.id === 'string' && /^[A-Za-z0-9_-]{1,32}$/.test(k.id)
    && typeof k.key === 'string' && Buffer.from(k.key, 'base64').length === 32)
    && new Set(keys.map((k) => k.id)).size === keys.length;
  if (!valid) throw refuse('holds no valid key-encryption keys');
  return { cookieKeys: cookieKeys as string[], kek: keys as SecretsFile['kek'] };
}
