import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Account } from '../accounts/store.js';
import type { Db } from '../storage/db.js';
import type { PushSubscriptionJson } from '../push/types.js';
import type { Device, DeviceStatus, UnlockPolicy, WebAuthnCredential } from './types.js';
import { storedCredential } from './legacy-credential.js';

/**
 * The enrolled authenticators, on the `devices` table. One set of SQL for PostgreSQL and PGlite.
 * The TOTP secret is stored sealed by the caller (secretbox, aad = device id) and never leaves
 * this module in clear; `getTotpSecretSealed` hands the sealed form to whoever must open it.
 */
export interface NewDevice {
  /** From `newDeviceId()`; the caller needs it first to seal the TOTP secret with aad = id. */
  id?: string;
  accountId: string;
  name: string;
  publicJwk: JWK;
  push: PushSubscriptionJson | null;
  totpSecretSealed: string;
  unlock?: UnlockPolicy;
  webauthn?: WebAuthnCredential | null;
  /** Who issued the enrollment code it was made with (enrollment_codes.created_by). */
  enrolledBy?: string | null;
}

/** An enrollment code /account issued (src/selfservice): before the first device, to a password alone. */
const SELF_SERVICE = (alias = '') => `${alias}enrolled_by LIKE 'self:%'`;

export interface DeviceRegistry {
  create(input: NewDevice): Promise<Device>;
  /** Null for an unknown device and for one whose enrollment was never confirmed in time (LIVE). */
  get(id: string): Promise<Device | null>;
  /**
   * What an answer from a device needs, in one query (bench/README.md, round trips per sign-in):
   * the device, its sealed TOTP secret, and whether its account may still sign in.
   */
  getForAnswer(id: string): Promise<{ device: Device; sealedSecret: string | null; accountActive: boolean; account: Account | null } | null>;
  /**
   * Every device of an account, revoked ones included, oldest first; with `enrolledBy`, only those
   * made with an enrollment code that issuer issued (e.g. `self:<account>:<sso session>`).
   */
  listByAccount(accountId: string, opts?: { enrolledBy?: string }): Promise<Device[]>;
  /**
   * What a push's dispatch needs, in one query (the statement it already made): every live device of
   * the account, oldest first, and when the account's sessions last ended (a sign-in begun before
   * that may send its push no more: signin/push.ts). No account: no devices, never ended.
   */
  listForDispatch(accountId: string): Promise<{ devices: Device[]; sessionsEndedAt: Date | null }>;
  /** An account's active devices as a passcode check needs them (signin/passcode.ts): one query, secrets sealed. */
  listTotpCandidates(accountId: string): Promise<{ id: string; lastOtpStep: number; sealedSecret: string }[]>;
  /** Active devices with a live push subscription: the only ones a notifier may send to. */
  listPushTargets(accountId: string): Promise<Device[]>;
  rename(id: string, name: string): Promise<boolean>;
  /** Revokes for good: the push subscription is dropped so it can never be used again. */
  revoke(id: string): Promise<boolean>;
  /** A new subscription (status 'active') or null (poll mode, status 'none'). Active devices only. */
  setPush(id: string, push: PushSubscriptionJson | null): Promise<boolean>;
  /**
   * The push service said 404/410: never use this subscription again. When `endpoint` is given, only
   * that subscription is marked, so a newer one the device sent meanwhile is not killed by a late failure.
   */
  markPushDead(id: string, endpoint?: string): Promise<boolean>;
  /**
   * RFC 6238 5.2: a TOTP step is accepted once per device. Atomic compare-and-set, so of concurrent
   * callers with the same step exactly one gets true. This counter is for typed passcodes.
   */
  acceptOtpStep(id: string, step: number): Promise<boolean>;
  /**
   * The same, for the steps a device sends itself (signed answers, unregistering): a separate
   * counter, so the passcode an approval carried is still the one the phone shows and may type once.
   * `usedAt`, when given, is recorded as the device's last use in the same statement.
   */
  acceptAnswerStep(id: string, step: number, usedAt?: Date): Promise<boolean>;
  /** Active devices of an account (the MAX_DEVICES_PER_ACCOUNT cap counts these). */
  countActive(accountId: string): Promise<number>;
  /**
   * Whether the account has or had an authenticator: an active device (a pending one only while
   * young: see LIVE), or one its phone confirmed, revoked ones included. A device revoked before its
   * phone confirmed it never was one (a password alone may enroll such a device before the first phone).
   */
  hasEverHad(accountId: string): Promise<boolean>;
  /** Whether a device of the account, revoked ones included, was ever confirmed by its phone (isPending false). */
  hasConfirmed(accountId: string): Promise<boolean>;

  touch(id: string, at?: Date): Promise<void>;
  /**
   * The phone's first signed call confirms its device (isPending false); a later one just touches it.
   * False, and nothing written, for a device that is not live and active, or for one /account
   * enrolled before the account had any confirmed device (as a password alone may) that was still
   * pending when a device enrolled after it was confirmed: the owner enrolled and confirmed a phone
   * of their own since, and what a password alone may have planted before stays void.
   */
  confirm(id: string, at: Date): Promise<boolean>;
  /**
   * Revokes the account's pending devices (never confirmed) that /account enrolled, but `keep`: the
   * owner's first enrollment voids what a password-only session may have planted (enrollment.ts).
   * Their ids, for the audit.
   */
  revokePending(accountId: string, keep: string): Promise<string[]>;
  /**
   * After a verified assertion: its signature counter and backup state. Compare-and-set on the
   * counter (W3C WebAuthn 6.1.1), so of two assertions carrying one counter only one is recorded;
   * false then. Counter 0 (authenticators that keep none) always records.
   */
  recordWebAuthnUse(id: string, counter: number, backedUp: boolean): Promise<boolean>;
  getTotpSecretSealed(id: string): Promise<string | null>;
  /** Replaces the sealed secret after a key-encryption-key rotation (secretbox.needsRewrap). */
  rewrapTotpSecret(id: string, oldSealed: string, newSealed: string): Promise<boolean>;
}

/** 'dev_' + 128 random bits, URL-safe: it travels as a JWS kid and in URLs. */
export function newDeviceId(): string {
  return `dev_${randomBytes(16).toString('base64url')}`;
}

interface DeviceRow {
  id: string;
  account_id: string;
  name: string;
  public_jwk: JWK | string;
  push: PushSubscriptionJson | string | null;
  push_status: string;
  status: string;
  unlock: string;
  webauthn: Parameters<typeof storedCredential>[0] | string | null;
  last_otp_step: string | number | bigint;
  last_answer_step: string | number | bigint;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

/**
 * A device counts once the phone has confirmed it: its first signed call (docs/device-api.md
 * section 2) sets last_used_at. Until then it is pending, and a pending device older than
 * PENDING_DEVICE_MINUTES is treated as never made: every read here leaves it out, so an abandoned
 * enrollment (the phone lost its keys, the answer never arrived) stops counting as "has a device"
 * and no longer holds a place under the device cap. While young it counts, so a phone that
 * enrolls and is asked at once works as before.
 */
export const PENDING_DEVICE_MINUTES = 10;
/** The condition, with the table's alias when the query names one (`d.`). */
const live = (alias = '') => `(${alias}last_used_at IS NOT NULL OR ${alias}created_at > now() - interval '${PENDING_DEVICE_MINUTES} minutes')`;
const LIVE = live();
/** The same condition, for a query over `devices` elsewhere (accounts/store.ts counts them with the account). */
export const LIVE_DEVICE = LIVE;

/**
 * Whether device `d` may be (or is) confirmed: already confirmed, not made at /account, or made
 * there with the account's confirmed devices all older (enrolled when the account already had a
 * confirmed device: the owner's, as ever) or none newer. A phone /account enrolled while the account
 * had none confirmed, still pending when a newer device was confirmed, is what a password alone may
 * have planted before the owner's first phone: it stays void.
 */
const CONFIRMABLE = `(d.last_used_at IS NOT NULL OR d.enrolled_by IS NULL OR NOT ${SELF_SERVICE('d.')}
  OR EXISTS (SELECT 1 FROM devices e WHERE e.account_id = d.account_id AND e.id <> d.id
    AND e.last_used_at IS NOT NULL AND e.created_at < d.created_at)
  OR NOT EXISTS (SELECT 1 FROM devices o WHERE o.account_id = d.account_id AND o.id <> d.id
    AND o.last_used_at IS NOT NULL AND o.created_at > d.created_at))`;

const COLUMNS = 'id, account_id, name, public_jwk, push, push_status, status, unlock, webauthn, last_otp_step, last_answer_step, created_at, last_used_at';
/** The same columns of `devices d` in a join. */
const D_COLUMNS = COLUMNS.split(', ').map((c) => `d.${c}`).join(', ');

/** What newDeviceId() makes, with room for other apps' ids: anything else is never sent to the database. */
export const DEVICE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The account's columns as getForAnswer joins them (all null when the account row is gone). */
interface AccountColumns {
  account_row_id: string | null;
  account_username: string | null;
  account_display_name: string | null;
  account_email: string | null;
  account_disabled: boolean | null;
  account_created_at: Date | string | null;
  account_sessions_ended_at: Date | string | null;
}

function toAccount(r: AccountColumns): Account | null {
  if (r.account_row_id === null) return null;
  return {
    id: r.account_row_id, username: r.account_username!, displayName: r.account_display_name!, email: r.account_email,
    disabled: r.account_disabled === true, createdAt: new Date(r.account_created_at!),
    sessionsEndedAt: r.account_sessions_ended_at ? new Date(r.account_sessions_ended_at) : null,
  };
}

/** jsonb comes back parsed from both drivers; a string is parsed defensively. */
function json<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    publicJwk: json(row.public_jwk),
    push: row.push === null ? null : json(row.push),
    pushStatus: row.push_status as Device['pushStatus'],
    status: row.status as DeviceStatus,
    unlock: row.unlock as UnlockPolicy,
    webauthn: row.webauthn === null ? null : storedCredential(json(row.webauthn)),
    // bigint: node-postgres returns a string, PGlite a number or bigint.
    lastOtpStep: Number(row.last_otp_step),
    lastAnswerStep: Number(row.last_answer_step),
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  };
}

export function createDeviceRegistry(db: Db): DeviceRegistry {
  const one = async (sql: string, params: unknown[]): Promise<Device | null> => {
    const [row] = await db.query<DeviceRow>(sql, params);
    return row ? toDevice(row) : null;
  };
  const changed = async (sql: string, params: unknown[]): Promise<boolean> =>
    (await db.query(sql, params)).length > 0;

  return {
    async create(input) {
      const id = input.id ?? newDeviceId();
      const device = await one(
        `INSERT INTO devices (id, account_id, name, public_jwk, push, push_status, totp_secret_enc, unlock, webauthn, enrolled_by)
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9::jsonb, $10) RETURNING ${COLUMNS}`,
        [id, input.accountId, input.name, JSON.stringify(input.publicJwk),
          input.push ? JSON.stringify(input.push) : null, input.push ? 'active' : 'none',
          input.totpSecretSealed, input.unlock ?? 'none', input.webauthn ? JSON.stringify(input.webauthn) : null,
          input.enrolledBy ?? null]);
      return device!;
    },

    // A NUL or a lone surrogate (from a JWS kid) would make PostgreSQL fail: such an id is just unknown.
    get: async (id) => (DEVICE_ID.test(id) ? one(`SELECT ${COLUMNS} FROM devices WHERE id = $1 AND ${LIVE}`, [id]) : null),

    async getForAnswer(id) {
      if (!DEVICE_ID.test(id)) return null;
      // The account's columns too (never its password hash): the sign-in that finishes with this
      // read hands the account on to oidc-provider's findAccount (oidc/account-cache.ts).
      const [row] = await db.query<DeviceRow & AccountColumns & { totp_secret_enc: string | null }>(
        `SELECT ${D_COLUMNS}, d.totp_secret_enc, a.disabled AS account_disabled,
                a.id AS account_row_id, a.username AS account_username, a.display_name AS account_display_name,
                a.email AS account_email, a.created_at AS account_created_at, a.sessions_ended_at AS account_sessions_ended_at
           FROM devices d LEFT JOIN accounts a ON a.id = d.account_id WHERE d.id = $1 AND ${live('d.')}`, [id]);
      return row ? { device: toDevice(row), sealedSecret: row.totp_secret_enc, accountActive: row.account_disabled === false, account: toAccount(row) } : null;
    },

    async listByAccount(accountId, opts) {
      const rows = await db.query<DeviceRow>(
        `SELECT ${COLUMNS} FROM devices WHERE account_id = $1 AND ${LIVE} AND ($2::text IS NULL OR enrolled_by = $2) ORDER BY created_at, id`, [accountId, opts?.enrolledBy ?? null]);
      return rows.map(toDevice);
    },

    async listForDispatch(accountId) {
      const rows = await db.query<Omit<DeviceRow, 'id'> & { id: string | null; account_sessions_ended_at: Date | string | null }>(
        `SELECT ${D_COLUMNS}, a.sessions_ended_at AS account_sessions_ended_at
           FROM accounts a LEFT JOIN devices d ON d.account_id = a.id AND ${live('d.')}
          WHERE a.id = $1 ORDER BY d.created_at, d.id`, [accountId]);
      const ended = rows[0]?.account_sessions_ended_at;
      return {
        devices: rows.flatMap((r) => (r.id === null ? [] : [toDevice(r as DeviceRow)])),
        sessionsEndedAt: ended ? new Date(ended) : null,
      };
    },

    async listTotpCandidates(accountId) {
      const rows = await db.query<{ id: string; last_otp_step: string | number | bigint; totp_secret_enc: string }>(
        `SELECT id, last_otp_step, totp_secret_enc FROM devices WHERE account_id = $1 AND status = 'active' AND ${LIVE} ORDER BY created_at, id`, [accountId]);
      return rows.map((r) => ({ id: r.id, lastOtpStep: Number(r.last_otp_step), sealedSecret: r.totp_secret_enc }));
    },

    async listPushTargets(accountId) {
      const rows = await db.query<DeviceRow>(
        `SELECT ${COLUMNS} FROM devices
         WHERE account_id = $1 AND status = 'active' AND push_status = 'active' AND push IS NOT NULL AND ${LIVE}
         ORDER BY created_at, id`, [accountId]);
      return rows.map(toDevice);
    },

    rename: (id, name) =>
      changed('UPDATE devices SET name = $2 WHERE id = $1 AND status = \'active\' RETURNING id', [id, name]),

    revoke: (id) =>
      changed(`UPDATE devices SET status = 'revoked', revoked_at = now(), push = NULL, push_status = 'none'
               WHERE id = $1 AND status = 'active' RETURNING id`, [id]),

    setPush: (id, push) =>
      changed(`UPDATE devices SET push = $2::jsonb, push_status = $3
               WHERE id = $1 AND status = 'active' RETURNING id`,
      [id, push ? JSON.stringify(push) : null, push ? 'active' : 'none']),

    markPushDead: (id, endpoint) =>
      changed(`UPDATE devices SET push_status = 'dead'
               WHERE id = $1 AND push_status = 'active' AND ($2::text IS NULL OR push->>'endpoint' = $2::text)
               RETURNING id`, [id, endpoint ?? null]),

    acceptOtpStep: (id, step) =>
      changed(`UPDATE devices SET last_otp_step = $2
               WHERE id = $1 AND last_otp_step < $2 AND status = 'active' AND ${LIVE} RETURNING id`, [id, step]),

    // An answer confirms a pending device as its first signed call would (confirm below): under the
    // same rule, so the two ways in cannot drift apart (red-team: the answer's path skipped it).
    acceptAnswerStep: (id, step, usedAt) =>
      changed(`UPDATE devices d SET last_answer_step = $2, last_used_at = COALESCE($3::timestamptz, d.last_used_at)
               WHERE d.id = $1 AND d.last_answer_step < $2 AND d.status = 'active' AND ${live('d.')} AND ${CONFIRMABLE}
               RETURNING d.id`, [id, step, usedAt ?? null]),

    async countActive(accountId) {
      const [row] = await db.query<{ n: string | number }>(
        `SELECT count(*) AS n FROM devices WHERE account_id = $1 AND status = 'active' AND ${LIVE}`, [accountId]);
      return Number(row?.n ?? 0);
    },

    async hasEverHad(accountId) {
      return (await db.query(`SELECT 1 FROM devices WHERE account_id = $1 AND ${LIVE} AND (status = 'active' OR last_used_at IS NOT NULL) LIMIT 1`, [accountId])).length > 0;
    },

    async hasConfirmed(accountId) {
      return (await db.query('SELECT 1 FROM devices WHERE account_id = $1 AND last_used_at IS NOT NULL LIMIT 1', [accountId])).length > 0;
    },

    async touch(id, at) {
      await db.query(`UPDATE devices SET last_used_at = $2 WHERE id = $1 AND ${LIVE}`, [id, at ?? new Date()]);
    },

    confirm: (id, at) =>
      changed(`UPDATE devices d SET last_used_at = $2
               WHERE d.id = $1 AND d.status = 'active' AND ${live('d.')} AND ${CONFIRMABLE}
               RETURNING d.id`, [id, at]),

    async revokePending(accountId, keep) {
      const rows = await db.query<{ id: string }>(
        `UPDATE devices SET status = 'revoked', revoked_at = now(), push = NULL, push_status = 'none'
         WHERE account_id = $1 AND id <> $2 AND status = 'active' AND last_used_at IS NULL AND ${SELF_SERVICE()} RETURNING id`, [accountId, keep]);
      return rows.map((r) => r.id);
    },

    recordWebAuthnUse: (id, counter, backedUp) =>
      changed(`UPDATE devices SET webauthn = webauthn || jsonb_build_object('counter', $2::bigint, 'backedUp', $3::boolean)
               WHERE id = $1 AND status = 'active' AND ${LIVE} AND webauthn IS NOT NULL
                 AND CASE WHEN $2::bigint = 0 THEN COALESCE((webauthn->>'counter')::bigint, 0) = 0
                          ELSE COALESCE((webauthn->>'counter')::bigint, 0) < $2::bigint END RETURNING id`,
      [id, counter, backedUp]),

    async getTotpSecretSealed(id) {
      const [row] = await db.query<{ totp_secret_enc: string }>('SELECT totp_secret_enc FROM devices WHERE id = $1', [id]);
      return row?.totp_secret_enc ?? null;
    },

    rewrapTotpSecret: (id, oldSealed, newSealed) =>
      changed('UPDATE devices SET totp_secret_enc = $3 WHERE id = $1 AND totp_secret_enc = $2 RETURNING id',
        [id, oldSealed, newSealed]),
  };
}

/** Pure: what hasEverHad says, of the account's live devices (listByAccount). */
export function hadAuthenticator(devices: ReadonlyArray<Pick<Device, 'status' | 'lastUsedAt'>>): boolean {
  return devices.some((d) => d.status === 'active' || !isPending(d));
}

/** Not yet confirmed by the phone's first signed call; such a device is left out after PENDING_DEVICE_MINUTES. */
export function isPending(device: Pick<Device, 'lastUsedAt'>): boolean {
  return device.lastUsedAt === null;
}

/** When a pending device stops counting. */
export function pendingUntil(device: Pick<Device, 'createdAt'>): Date {
  return new Date(device.createdAt.getTime() + PENDING_DEVICE_MINUTES * 60_000);
}
