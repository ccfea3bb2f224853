import type { SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';
import type { DeviceRegistry } from './registry.js';

/**
 * After a new key-encryption key is made active (KEK="k2:...,k1:..."), re-seals every device's
 * TOTP secret under it, so the old key can then be retired. Safe to run while the IdP serves:
 * each row is replaced only if it still holds what was read.
 */
export async function rewrapTotpSecrets(db: Db, devices: DeviceRegistry, box: SecretBox): Promise<{ total: number; rewrapped: number }> {
  const rows = await db.query<{ id: string; totp_secret_enc: string }>('SELECT id, totp_secret_enc FROM devices');
  let rewrapped = 0;
  for (const row of rows) {
    if (!box.needsRewrap(row.totp_secret_enc)) continue;
    const sealed = box.seal(box.open(row.totp_secret_enc, row.id), row.id);
    if (await devices.rewrapTotpSecret(row.id, row.totp_secret_enc, sealed)) rewrapped++;
  }
  return { total: rows.length, rewrapped };
}
