import { generateVapidKeys, type VapidKeys } from '../push/vapid.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';
import { getOrCreateKey } from './keystore.js';

/**
 * The VAPID key pair (RFC 8292), generated once and stored. Every push subscription is bound to
 * its public key, so it must never change silently: a new key would orphan every subscription.
 * Sealed under the key-encryption key like the signing keys.
 */
export function loadVapidKeys(db: Db, box: SecretBox): Promise<VapidKeys> {
  return getOrCreateKey(db, 'vapid', box, async () => generateVapidKeys());
}
