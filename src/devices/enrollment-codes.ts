import { randomBytes } from 'node:crypto';
import { sha256b64url } from '../crypto/hash.js';
import type { Db } from '../storage/db.js';

/**
 * One-time enrollment codes (docs/device-api.md section 1). A code is typed or scanned once, so it
 * is short and human-typable; it is stored only as its SHA-256 and consumed atomically, like
 * Lucia's hashed session secrets and node-oidc-provider's consumable artefacts.
 */
export interface EnrollmentCodes {
  issue(accountId: string, createdBy: string): Promise<{ code: string; expiresAt: Date }>;
  /** The account the code was issued for, once; unknown, used and expired codes all give null. */
  consume(code: string): Promise<string | null>;
  /** The same, with who issued the code (its created_by). */
  take(code: string): Promise<{ accountId: string; createdBy: string } | null>;
  /** The account of a usable code, without using it (checks before consume); else null. */
  peek(code: string): Promise<string | null>;
}

/** Crockford base32: no I, L, O, U, so what a person reads is what they type. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 16 symbols x 5 bits = 80 bits: far beyond guessing within 15 minutes under any rate limit. */
const SYMBOLS = 16;

export const DEFAULT_ENROLLMENT_TTL_MS = 15 * 60_000;

/** A fresh code of SYMBOLS Crockford symbols (80 random bits); recovery codes are made the same way. */
export function newCode(): string {
  const bytes = randomBytes(SYMBOLS * 5 / 8);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = SYMBOLS - 1; i >= 0; i--) out += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

/** Groups of four with dashes, e.g. ABCD-EFGH-JKMN-PQRS. */
export function formatCode(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

/**
 * The canonical form: upper case, dashes and spaces dropped, and Crockford's read-alikes mapped
 * (O -> 0, I and L -> 1). Null when it cannot be a code, so garbage never reaches the database.
 */
export function normalizeCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const code = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (code.length !== SYMBOLS) return null;
  for (const ch of code) if (!ALPHABET.includes(ch)) return null;
  return code;
}

export function createEnrollmentCodes(db: Db, opts: { ttlMs?: number; now?: () => number } = {}): EnrollmentCodes {
  const ttlMs = opts.ttlMs ?? DEFAULT_ENROLLMENT_TTL_MS;
  const now = opts.now ?? Date.now;
  return {
    async issue(accountId, createdBy) {
      const code = newCode();
      const expiresAt = new Date(now() + ttlMs);
      const insert = (q: Db) => q.query(
        'INSERT INTO enrollment_codes (code_hash, account_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
        [sha256b64url(code), accountId, createdBy, new Date(now()), expiresAt]);
      if (!createdBy.startsWith('self:')) {
        await insert(db);
      } else {
        // Of the codes /account issued an account, only the newest works: the page shows one code at
        // a time (red-team: 240 requests left 240 live codes, each a way in for 15 minutes). Under the
        // account's row lock, so codes issued at once void each other too.
        await db.transaction(async (tx) => {
          await tx.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
          await tx.query("UPDATE enrollment_codes SET expires_at = $2 WHERE account_id = $1 AND created_by LIKE 'self:%' AND used_at IS NULL AND expires_at > $2",
            [accountId, new Date(now())]);
          await insert(tx);
        });
      }
      return { code: formatCode(code), expiresAt };
    },

    async consume(input) {
      return (await this.take(input))?.accountId ?? null;
    },

    async take(input) {
      const code = normalizeCode(input);
      if (!code) return null;
      const at = new Date(now());
      // One statement: of concurrent consumers exactly one sees used_at IS NULL and gets the row.
      // A code /account issued (self:<account>:<session uid>) works only while that SSO session
      // lives: ended at /session/end, by the next user's sign-in on a shared computer, or expired,
      // its codes end with it (red-team: a code shown on a shared screen enrolled a phone after the
      // user signed out there).
      const [row] = await db.query<{ account_id: string; created_by: string }>(
        `UPDATE enrollment_codes SET used_at = $2
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND ${SESSION_LIVES} RETURNING account_id, created_by`,
        [sha256b64url(code), at]);
      return row ? { accountId: row.account_id, createdBy: row.created_by } : null;
    },

    async peek(input) {
      const code = normalizeCode(input);
      if (!code) return null;
      const [row] = await db.query<{ account_id: string }>(
        `SELECT account_id FROM enrollment_codes WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND ${SESSION_LIVES}`,
        [sha256b64url(code), new Date(now())]);
      return row?.account_id ?? null;
    },
  };
}

/** The stored form of a code (what recovery codes name as their batch), or null when it cannot be one. */
export function enrollmentCodeHash(input: unknown): string | null {
  const code = normalizeCode(input);
  return code ? sha256b64url(code) : null;
}

/**
 * At an account's first enrollment: every other unused code of the account is void. Each was
 * issued while the password alone could ask for one (/account before the first device); kept, it
 * would enroll a phone later, past the second factor the first phone now is.
 */
/** The SSO session a self-service code names is still signed in (codes of an administrator, or of the old form self:<account>, name none). */
const SESSION_LIVES = `(created_by NOT LIKE 'self:%:%' OR EXISTS (
  SELECT 1 FROM oidc_payloads p WHERE p.model = 'Session' AND p.uid = split_part(created_by, ':', 3)
     AND p.consumed_at IS NULL AND (p.expires_at IS NULL OR p.expires_at > now()) AND p.payload->>'accountId' = account_id::text))`;

export async function voidOtherEnrollmentCodes(db: Db, accountId: string, at: Date): Promise<void> {
  await db.query('UPDATE enrollment_codes SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL', [accountId, at]);
}
