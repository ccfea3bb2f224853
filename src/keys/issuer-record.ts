import type { SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';
import { getOrCreateKey, updateKey } from './keystore.js';

/**
 * The issuer this database has served under. Every enrolled phone signs its calls for that issuer
 * (the `aud` of its JWS: docs/device-api.md) and every relying app checks it in ID tokens, so an
 * instance started with another ISSUER on the same database refuses every phone (`401 wrong aud`)
 * while it still sends pushes (red-team: it started without a word). The start says so; the
 * record follows the new issuer, so the warning is given once per change.
 *
 * Pure part: what to tell the operator, or null.
 */
export function issuerChangeWarning(recorded: string, current: string): string | null {
  if (recorded === current) return null;
  return `ISSUER changed from ${recorded} to ${current}: phones enrolled under the old issuer cannot answer (their signed calls name it) and must be enrolled again, and relying apps and SAML SPs must be given the new issuer; if this was not meant, set ISSUER back`;
}

/** Reads the recorded issuer (recording `current` the first time) and moves the record to `current`. */
export async function recordIssuer(db: Db, box: SecretBox, current: string): Promise<string | null> {
  const recorded = await getOrCreateKey<{ issuer: string }>(db, 'issuer', box, async () => ({ issuer: current }));
  const warning = issuerChangeWarning(recorded.issuer, current);
  if (warning) await updateKey<{ issuer: string }>(db, 'issuer', box, async () => ({ issuer: current }), () => ({ issuer: current }));
  return warning;
}
