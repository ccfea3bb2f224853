import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashPassword } from '../accounts/passwords.js';
import type { AccountStore } from '../accounts/store.js';

export const DEMO_USERNAME = 'demo';

/**
 * The quickstart's demo user. Its password is generated once into DATA_DIR/demo-password (0600)
 * and printed at every start, so a newcomer can always sign in; nothing is hard-coded.
 */
export async function ensureDemoUser(accounts: AccountStore, dataDir: string): Promise<{ username: string; password: string }> {
  const file = path.join(dataDir, 'demo-password');
  let password = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (!password) {
    password = randomBytes(9).toString('base64url');
    writeFileSync(file, password + '\n', { mode: 0o600 });
  }
  const existing = await accounts.findByUsername(DEMO_USERNAME);
  if (!existing) {
    await accounts.create({ username: DEMO_USERNAME, displayName: 'Demo User', email: 'demo@example.com', passwordHash: await hashPassword(password) });
  }
  return { username: DEMO_USERNAME, password };
}
