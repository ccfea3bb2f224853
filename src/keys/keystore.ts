import { ConfigError } from '../config/settings.js';
import { SecretBoxError, sealedKeyId, type SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';

/**
 * Named key material kept in the database so every instance shares it (signing keys, VAPID).
 *
 * The values are private keys: whoever reads them can sign ID tokens or push as this IdP. So a row
 * holds `{ "sealed": "v1.<kid>...." }`, the JSON value sealed with AES-256-GCM under the
 * key-encryption key (src/crypto/secretbox.ts; the row's name is the additional data, so a sealed
 * value cannot be moved to another name), and a copy of the database alone signs nothing.
 * Rows written in clear by an older version are sealed the first time they are read.
 */
interface SealedRow {
  sealed: string;
}

const isSealed = (value: unknown): value is SealedRow =>
  typeof value === 'object' && value !== null && typeof (value as SealedRow).sealed === 'string' && Object.keys(value).length === 1;

function seal<T>(box: SecretBox, name: string, value: T): SealedRow {
  return { sealed: box.seal(JSON.stringify(value), name) };
}

function open<T>(box: SecretBox, name: string, stored: unknown): T {
  if (!isSealed(stored)) return stored as T;
  try {
    return JSON.parse(box.open(stored.sealed, name)) as T;
  } catch (err) {
    // A key retired from KEK before `secrets rewrap` ran, or the wrong KEK: say so at start.
    if (err instanceof SecretBoxError) {
      throw new ConfigError('environment', 'KEK', `cannot open the stored key "${name}" (${err.code}): list the key-encryption key it was sealed with (run \`npm run admin -- secrets rewrap\` before retiring a key)`);
    }
    throw err;
  }
}

/** Replaces a row's value only if it still holds what was read (another instance may be doing the same). */
async function replace(db: Db, name: string, was: unknown, now: SealedRow): Promise<boolean> {
  const rows = await db.query('UPDATE keystore SET value = $2 WHERE name = $1 AND value = $3::jsonb RETURNING name',
    [name, JSON.stringify(now), JSON.stringify(was)]);
  return rows.length > 0;
}

/**
 * `getOrCreate` is race-safe: when two instances start at once, both end up with the first one's
 * value. A value in clear or sealed under an older key is re-sealed under the active key.
 */
export async function getOrCreateKey<T>(db: Db, name: string, box: SecretBox, create: () => Promise<T>): Promise<T> {
  const read = async () => (await db.query<{ value: unknown }>('SELECT value FROM keystore WHERE name = $1', [name]))[0]?.value;
  let stored = await read();
  if (stored === undefined) {
    await db.query('INSERT INTO keystore (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
      [name, JSON.stringify(seal(box, name, await create()))]);
    stored = await read();
  }
  const value = open<T>(box, name, stored);
  if (!isSealed(stored) || box.needsRewrap(stored.sealed)) await replace(db, name, stored, seal(box, name, value));
  return value;
}

/**
 * `secrets rewrap`: re-seals every keystore row under the active key-encryption key (and seals
 * any still in clear), so an older key can be retired. Safe while the IdP serves.
 */
export async function rewrapKeystore(db: Db, box: SecretBox): Promise<{ total: number; rewrapped: number }> {
  const rows = await db.query<{ name: string; value: unknown }>('SELECT name, value FROM keystore ORDER BY name');
  let rewrapped = 0;
  for (const { name, value } of rows) {
    if (isSealed(value) && !box.needsRewrap(value.sealed)) continue;
    if (await replace(db, name, value, seal(box, name, open(box, name, value)))) rewrapped++;
  }
  return { total: rows.length, rewrapped };
}

/**
 * Changes a row's value (read, `change`, compare-and-swap), trying again when another instance
 * changed it meanwhile. Used by `admin keys rotate` (src/keys/signing-keys.ts).
 */
export async function updateKey<T>(db: Db, name: string, box: SecretBox, create: () => Promise<T>, change: (value: T) => T | Promise<T>): Promise<T> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await getOrCreateKey(db, name, box, create);
    const stored = (await db.query<{ value: unknown }>('SELECT value FROM keystore WHERE name = $1', [name]))[0]?.value;
    const next = await change(open<T>(box, name, stored));
    if (await replace(db, name, stored, seal(box, name, next))) return next;
  }
  throw new Error(`the stored key "${name}" kept changing while it was being updated; try again`);
}

/**
 * The start's check that every secret sealed at rest opens with the listed key-encryption keys:
 * each keystore row (the SAML key too, which is read only at its first use) and each phone's TOTP
 * secret, by the key id it was sealed with (nothing is decrypted). Red-team (rotation round): with
 * the old KEK dropped before `secrets rewrap`, the start went on and sign-ins with a passcode, the
 * phones' answers and SAML's metadata answered 500. Throws a ConfigError naming what is sealed
 * under which unlisted id.
 */
export async function requireListedKeyIds(db: Db, listed: string[]): Promise<void> {
  const unlisted = new Map<string, string[]>();
  const note = (sealed: unknown, what: string) => {
    const kid = sealedKeyId(sealed);
    if (kid === null || listed.includes(kid)) return;
    unlisted.set(kid, [...(unlisted.get(kid) ?? []), what]);
  };
  for (const row of await db.query<{ name: string; sealed: unknown }>("SELECT name, value->>'sealed' AS sealed FROM keystore")) {
    note(row.sealed, `the stored key "${row.name}"`);
  }
  // One sealed secret per key id (the id is the value's second dot-separated part, see secretbox), with the count of phones.
  for (const row of await db.query<{ sealed: string; n: string | number }>(
    "SELECT min(totp_secret_enc) AS sealed, count(*) AS n FROM devices WHERE totp_secret_enc IS NOT NULL GROUP BY split_part(totp_secret_enc, '.', 2)")) {
    note(row.sealed, Number(row.n) === 1 ? 'the secret of 1 phone' : `the secrets of ${row.n} phones`);
  }
  if (unlisted.size === 0) return;
  const [kid, what] = [...unlisted][0]!;
  throw new ConfigError('environment', 'KEK', `the key-encryption key "${kid}", which KEK does not list, sealed ${what.join(' and ')}: list it again (after the new one) and run \`npm run admin -- secrets rewrap\` before retiring it`);
}
