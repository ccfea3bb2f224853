import type { Db } from '../storage/db.js';

/**
 * Named key material kept in the database so every instance shares it (signing keys, VAPID).
 * `getOrCreate` is race-safe: when two instances start at once, both end up with the first one's value.
 */
export async function getOrCreateKey<T>(db: Db, name: string, create: () => Promise<T>): Promise<T> {
  const found = await db.query<{ value: T }>('SELECT value FROM keystore WHERE name = $1', [name]);
  if (found[0]) return found[0].value;
  const value = await create();
  await db.query('INSERT INTO keystore (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, JSON.stringify(value)]);
  const [row] = await db.query<{ value: T }>('SELECT value FROM keystore WHERE name = $1', [name]);
  return row!.value;
}
