import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/settings.js';
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
    stored = JSON.parse(readFileSync(file, 'utf8')) as SecretsFile;
  } else {
    stored = {
      cookieKeys: [randomBytes(32).toString('base64url')],
      kek: [{ id: 'k1', key: randomBytes(32).toString('base64') }],
    };
    // 0700: the folder also holds the embedded database (src/storage/private-folder.ts).
    ensurePrivateDir(settings.dataDir);
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
    source = 'generated';
  }
  return {
    // An empty list is never a set of keys (loadSettings refuses one; this guards other callers): Keygrip with none makes every cookie page a 500.
    cookieKeys: settings.cookieKeys?.length ? settings.cookieKeys : stored.cookieKeys,
    kek: settings.kek ?? stored.kek.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') })),
    source: settings.cookieKeys || settings.kek ? 'environment' : source,
  };
}
