import type { SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';
import type { DeviceRegistry } from './registry.js';

/**
 * A device's TOTP secret at rest: sealed with the key-encryption key (secretbox), aad = the device
 * id, so a sealed secret copied onto another device's row does not open. The one place that seals
 * and opens it.
 */

/** The sealed form to store for a new device (its id must be known first: it is the aad). */
export function sealTotpSecret(box: SecretBox, deviceId: string, secret: string): string {
  return box.seal(secret, deviceId);
}

/**
 * The device's secret in clear ('' when the row has none). Key rotation: a secret sealed under an
 * older key is re-sealed under the active one as it is used (best effort; the old key still opens it).
 */
export async function openTotpSecret(deps: { devices: DeviceRegistry; secretBox: SecretBox }, deviceId: string, alreadyRead?: string | null): Promise<string> {
  // `alreadyRead`: the sealed form the caller read with the device (registry getForAnswer), not read again.
  const sealed = alreadyRead !== undefined ? alreadyRead : await deps.devices.getTotpSecretSealed(deviceId);
  if (sealed === null) return '';
  const secret = deps.secretBox.open(sealed, deviceId);
  if (deps.secretBox.needsRewrap(sealed)) {
    await deps.devices.rewrapTotpSecret(deviceId, sealed, deps.secretBox.seal(secret, deviceId)).catch(() => false);
  }
  return secret;
}

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
