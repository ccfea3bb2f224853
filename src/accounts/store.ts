import { randomUUID } from 'node:crypto';
import type { Db } from '../storage/db.js';
import { LIVE_DEVICE } from '../devices/registry.js';

export interface Account {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  disabled: boolean;
  createdAt: Date;
  /** When the account's sessions were last ended (a new password, a revoke, a sign-out; oidc/sessions.ts), or null. */
  sessionsEndedAt?: Date | null;
}

export interface AccountRecord extends Account {
  passwordHash: string | null;
}

export interface DeviceCounts {
  active: number;
  /**
   * Every device the account has had that its phone confirmed, revoked ones included: one enrolled
   * and never confirmed (a password alone may make one before the first phone) does not make the
   * account one that had an authenticator.
   */
  ever: number;
}

/**
 * What a sign-in's look-up of a typed name finds: the account, or null; and the name as the look-up
 * folds case (PostgreSQL's lower(), which folds more than toLowerCase(): "mİra" is "mira").
 */
export interface SignInLookup { account: (AccountRecord & { devices: DeviceCounts }) | null; folded: string }

/** What the sign-in and the admin need of accounts. */
export interface AccountStore {
  create(input: { username: string; displayName?: string; email?: string | null; passwordHash?: string | null }): Promise<Account>;
  findById(id: string): Promise<AccountRecord | null>;
  /**
   * The same, locking the row until the caller's transaction ends (SELECT ... FOR UPDATE): on a
   * store made over a transaction, other writers to the account (an enrollment racing another for
   * the device cap) wait their turn.
   */
  findByIdForUpdate(id: string): Promise<AccountRecord | null>;
  findByUsername(username: string): Promise<AccountRecord | null>;
  /**
   * The same, with how many devices the account has now (active) and has ever had (revoked ones
   * included), as the devices registry counts them: what the sign-in decides its next step by,
   * in the one statement that finds the account; and the name folded as the look-up folds it.
   */
  findForSignIn(username: string): Promise<SignInLookup>;
  /** The one account with this e-mail address (case-insensitive); null when none or several have it. */
  findByEmail(email: string): Promise<AccountRecord | null>;
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  setDisabled(id: string, disabled: boolean): Promise<boolean>;
  list(): Promise<Account[]>;
}

export class UsernameTakenError extends Error {
  readonly code = 'username_taken';
}

interface Row {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  password_hash: string | null;
  disabled: boolean;
  created_at: Date | string;
  sessions_ended_at?: Date | string | null;
}

const toRecord = (r: Row): AccountRecord => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  email: r.email,
  disabled: r.disabled,
  createdAt: new Date(r.created_at),
  sessionsEndedAt: r.sessions_ended_at ? new Date(r.sessions_ended_at) : null,
  passwordHash: r.password_hash,
});

const toAccount = ({ passwordHash: _hash, ...account }: AccountRecord): Account => account;

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;

export function createAccountStore(db: Db): AccountStore {
  const one = async (sql: string, params: unknown[]) => {
    const [row] = await db.query<Row>(sql, params);
    return row ? toRecord(row) : null;
  };
  return {
    async create({ username, displayName, email = null, passwordHash = null }) {
      try {
        const row = await one(
          `INSERT INTO accounts (id, username, display_name, email, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
          [randomUUID(), username, displayName ?? username, email, passwordHash]);
        return toAccount(row!);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new UsernameTakenError(`username "${username}" is taken`);
        throw err;
      }
    },
    findById: (id) => one('SELECT * FROM accounts WHERE id = $1', [id]),
    findByIdForUpdate: (id) => one('SELECT * FROM accounts WHERE id = $1 FOR UPDATE', [id]),
    findByUsername: (username) => one('SELECT * FROM accounts WHERE lower(username) = lower($1)', [username]),
    async findForSignIn(username) {
      // One row whether or not an account has the name: the folded name comes back either way.
      const [row] = await db.query<Row & { active: string | number; ever: string | number; folded: string }>(
        `SELECT lower($1) AS folded, a.*, d.active, d.ever FROM (SELECT 1) one
           LEFT JOIN accounts a ON lower(a.username) = lower($1)
           LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE status = 'active') AS active, count(*) FILTER (WHERE last_used_at IS NOT NULL) AS ever
                                FROM devices WHERE account_id = a.id AND ${LIVE_DEVICE}) d ON true`, [username]);
      const account = row?.id ? { ...toRecord(row), devices: { active: Number(row.active ?? 0), ever: Number(row.ever ?? 0) } } : null;
      return { account, folded: row?.folded ?? username };
    },
    async findByEmail(email) {
      // Two rows: the address names no one in particular (e-mail is not unique in the schema).
      const rows = await db.query<Row>('SELECT * FROM accounts WHERE lower(email) = lower($1) LIMIT 2', [email]);
      return rows.length === 1 ? toRecord(rows[0]!) : null;
    },
    async setPasswordHash(id, passwordHash) {
      return (await db.query('UPDATE accounts SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING id', [id, passwordHash])).length === 1;
    },
    async setDisabled(id, disabled) {
      return (await db.query('UPDATE accounts SET disabled = $2, updated_at = now() WHERE id = $1 RETURNING id', [id, disabled])).length === 1;
    },
    async list() {
      return (await db.query<Row>('SELECT * FROM accounts ORDER BY lower(username)')).map((r) => toAccount(toRecord(r)));
    },
  };
}
