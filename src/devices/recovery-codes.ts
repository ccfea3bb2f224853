import { sha256b64url } from '../crypto/hash.js';
import type { Db } from '../storage/db.js';
import { formatCode, newCode, normalizeCode } from './enrollment-codes.js';

/**
 * One-time recovery codes: what lets a user who lost every authenticator sign in once more and
 * enroll a new one, without falling back to the password alone. Offered once, at the first
 * enrollment; each is 80 random bits in Crockford base32 (like an enrollment code), stored only as
 * its SHA-256 and consumed atomically (hashed, constant-time, single use, with a race test). The database finds a code by its hash, so no
 * secret is ever compared in JavaScript, and timing reveals nothing about a code (Lucia's pattern).
 */
export interface RecoveryCodes {
  /**
   * New codes, shown in clear this once. With `batch` (the SHA-256 of the enrollment code they come
   * with) they replace the account's earlier codes but those of other batches: until the account's
   * first enrollment each code carries its own set, and that enrollment keeps only its code's set
   * (keepBatch). Without, they replace every earlier code.
   */
  issue(accountId: string, batch?: string): Promise<string[]>;
  /**
   * True once per code: of concurrent callers with one code exactly one gets true. Never before a
   * device of the account was confirmed by its phone (red-team: with the password alone, before the
   * owner's first phone, a code of a batch /account handed out, beside a planted pending phone, made
   * an MFA session that the owner's first enrollment, which discards that batch, did not end). The
   * codes are a way back after losing a phone; until one was confirmed there was none to lose.
   */
  consume(accountId: string, code: string): Promise<boolean>;
  /**
   * A consumed code made usable again: its sign-in did not finish (another request finished it
   * first, or the account was disabled or its sessions ended meanwhile), so it spent nothing.
   * A code replaced by new ones since stays gone.
   */
  giveBack(accountId: string, code: string): Promise<void>;
  /** Unused codes left. */
  remaining(accountId: string): Promise<number>;
}

export const RECOVERY_CODE_COUNT = 10;

export function createRecoveryCodes(db: Db, opts: { now?: () => number; count?: number } = {}): RecoveryCodes {
  const now = opts.now ?? Date.now;
  const count = opts.count ?? RECOVERY_CODE_COUNT;
  return {
    async issue(accountId, batch) {
      const codes = Array.from({ length: count }, () => newCode());
      await db.transaction(async (tx) => {
        await tx.query('DELETE FROM recovery_codes WHERE account_id = $1 AND ($2::text IS NULL OR batch IS NULL OR batch = $2)', [accountId, batch ?? null]);
        for (const code of codes) {
          await tx.query('INSERT INTO recovery_codes (account_id, code_hash, created_at, batch) VALUES ($1, $2, $3, $4)',
            [accountId, sha256b64url(code), new Date(now()), batch ?? null]);
        }
      });
      return codes.map(formatCode);
    },

    async consume(accountId, input) {
      const code = normalizeCode(input);
      if (!code) return false;
      // One statement: of concurrent consumers exactly one sees used_at IS NULL and gets the row.
      const rows = await db.query(
        `UPDATE recovery_codes SET used_at = $3
         WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL
           AND EXISTS (SELECT 1 FROM devices WHERE account_id = $1 AND last_used_at IS NOT NULL)
         RETURNING account_id`,
        [accountId, sha256b64url(code), new Date(now())]);
      return rows.length > 0;
    },

    async giveBack(accountId, input) {
      const code = normalizeCode(input);
      if (!code) return;
      await db.query('UPDATE recovery_codes SET used_at = NULL WHERE account_id = $1 AND code_hash = $2 AND used_at IS NOT NULL',
        [accountId, sha256b64url(code)]);
    },

    async remaining(accountId) {
      const [row] = await db.query<{ n: string | number }>(
        'SELECT count(*) AS n FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL', [accountId]);
      return Number(row?.n ?? 0);
    },
  };
}

/**
 * At an account's first enrollment: only the recovery codes given with the enrollment code used
 * stay. Others came with codes a password-only session may have asked for (before the first
 * device, /account opens with the password), and must not sign in beside the new phone.
 */
export async function keepRecoveryBatch(db: Db, accountId: string, batch: string): Promise<void> {
  await db.query('DELETE FROM recovery_codes WHERE account_id = $1 AND batch IS DISTINCT FROM $2', [accountId, batch]);
}
