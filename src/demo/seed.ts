import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkPassword, hashPassword } from '../accounts/passwords.js';
import { UsernameTakenError, type AccountStore } from '../accounts/store.js';
import type { SecretBox } from '../crypto/secretbox.js';
import { getOrCreateKey, updateKey } from '../keys/keystore.js';
import type { Db } from '../storage/db.js';

export const DEMO_USERNAME = 'demo';
/** The keystore row that holds the demo password. */
const KEY = 'demo-password';

/**
 * The quickstart's demo user. Its password is generated once, kept in the database (sealed, in the
 * keystore, so every instance on that database prints the same one) with a copy in
 * DATA_DIR/demo-password (0600), and printed at every start, so a newcomer can always sign in;
 * nothing is hard-coded. `password` is null when that password does not open the account (set
 * with `user set-password`, say): printing it would show a password that does not work.
 * Red-team (several instances): each process generated a password into its own data folder and
 * printed it, while the shared database kept the first one's; two of three printed passwords failed.
 */
export async function ensureDemoUser(deps: { accounts: AccountStore; db: Db; box: SecretBox; dataDir: string }): Promise<{ username: string; password: string | null }> {
  const file = path.join(deps.dataDir, 'demo-password');
  const local = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  const existing = await deps.accounts.findByUsername(DEMO_USERNAME);
  const opens = async (password: string) => !!password && !!existing && await checkPassword(existing.passwordHash, password);
  // A folder from before the password was kept in the database gives its password to the database.
  let password = await getOrCreateKey(deps.db, KEY, deps.box, async () => local || randomBytes(9).toString('base64url'));
  // An account made by an older instance may open with another folder's password, not the stored one.
  let works = !existing || await opens(password);
  if (!works && local !== password && await opens(local)) {
    // Several older instances on one database each had a password of their own, and only one of
    // them opens the account: the folder that holds it gives it to the database, whichever started first (review).
    password = await updateKey(deps.db, KEY, deps.box, async () => local, () => local);
    works = true;
  }
  if (!works) return { username: DEMO_USERNAME, password: null };
  if (!existing) {
    try {
      await deps.accounts.create({ username: DEMO_USERNAME, displayName: 'Demo User', email: 'demo@example.com', passwordHash: await hashPassword(password) });
    } catch (err) {
      // Another instance created it a moment ago, with the same password.
      if (!(err instanceof UsernameTakenError)) throw err;
    }
  }
  // Only a password that opens the account replaces what the folder holds.
  if (local !== password) writeFileSync(file, password + '\n', { mode: 0o600 });
  return { username: DEMO_USERNAME, password };
}
