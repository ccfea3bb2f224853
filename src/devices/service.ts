import type { AuditLog } from '../audit/types.js';
import { createAccountStore } from '../accounts/store.js';
import type { Db } from '../storage/db.js';
import { createEnrollmentCodes, enrollmentCodeHash } from './enrollment-codes.js';
import { createRecoveryCodes } from './recovery-codes.js';
import { DeviceError } from './errors.js';
import { createDeviceRegistry, type DeviceRegistry } from './registry.js';
import type { Device, UnlockPolicy } from './types.js';
import { deviceNameSchema, parseBody } from './validate.js';

/** Who changed a device, as the audit trail says it: the account's own page or the administrator's CLI. */
export type DeviceActor = 'account' | 'admin-cli';

/**
 * Where a request to change devices came from, for the audit row's ip and client_id: /account
 * gives the client's IP (as the edge decided it, TRUST_PROXY aware) and its own client id. The CLI
 * has neither: its rows say `by: 'admin-cli'` (or createdBy 'admin') instead.
 * Red-team (operator round): these rows had no IP, so after an account takeover nothing told
 * where the attacker's new phone or the owner's revoked one was asked for from.
 */
export interface DeviceRequest {
  by: DeviceActor;
  ip?: string | null;
  clientId?: string | null;
}

/**
 * What the admin CLI and the self-service page do with devices. Every call names the account it
 * acts for, and a device of another account is answered as absent (`device_not_found`).
 */
export interface DeviceService {
  /** `session`: the /account session asking (self-service); none for an administrator. */
  issueEnrollment(accountId: string, createdBy: string, session?: IssuingSession): Promise<EnrollmentOffer>;
  listDevices(accountId: string, opts?: { enrolledBy?: string }): Promise<Device[]>;
  /** `by`: who asked, for the audit trail (the account's own page, with its IP and app, or the administrator's CLI). */
  renameDevice(accountId: string, deviceId: string, name: string, by?: DeviceActor | DeviceRequest): Promise<Device>;
  revokeDevice(accountId: string, deviceId: string, by?: DeviceActor | DeviceRequest): Promise<Device>;
}

/** The /account session a self-service code is issued to. */
export interface IssuingSession {
  /** It signed in with the password alone (allowed only while the account has no device). */
  passwordOnly: boolean;
  /** When it began (epoch ms, the clock sessions_ended_at is written with). */
  startedAt: number;
  /** The request's IP and app, for the audit rows of the code (and recovery codes) issued. */
  ip?: string | null;
  clientId?: string | null;
}

/**
 * Pure: why a self-service code may not be issued now, decided under the account's row lock. A
 * password-only session asks while the account has no device, and a device made meanwhile (the
 * owner's enrollment, racing the request) closes that; a session the account's sessions were
 * ended after (a new password, a sign-out everywhere, a revoke) asks for nothing.
 */
export function selfIssueRefusal(session: IssuingSession, account: { sessionsEndedAt?: Date | null }, deviceCount: number): 'has_devices' | 'session_ended' | null {
  if (account.sessionsEndedAt && session.startedAt < account.sessionsEndedAt.getTime()) return 'session_ended';
  if (session.passwordOnly && deviceCount > 0) return 'has_devices';
  return null;
}

export interface EnrollmentOffer {
  code: string;
  /** What the QR code holds: the PWA opens with the code and the issuer filled in. */
  url: string;
  expiresAt: Date;
  qrSvg: string;
  /**
   * One-time recovery codes, in clear, present only at an account's first enrollment: shown once,
   * they are what lets the user sign in again after losing every authenticator.
   */
  recoveryCodes?: string[];
}

export interface DeviceServiceDeps {
  devices: DeviceRegistry;
  /** Codes and recovery codes are issued in one transaction with the account's row locked. */
  db: Db;
  now?: () => number;
  issuer: string;
  audit?: AuditLog;
  /** The unlock policy the app must set up (DEVICE_UNLOCK). */
  unlock?: UnlockPolicy;
  /** Called once a device is newly revoked (app.ts: the account's sessions end with it). */
  onRevoked?: (accountId: string, deviceId: string) => Promise<void>;
}

/** The link (and QR code) that opens the PWA ready to enroll; `unlock` tells it to set up WebAuthn or a PIN first. */
export function enrollmentUrl(issuer: string, code: string, unlock: UnlockPolicy = 'none'): string {
  const base = `${issuer}/pwa/?enroll=${encodeURIComponent(code)}&issuer=${encodeURIComponent(issuer)}`;
  return unlock === 'none' ? base : `${base}&unlock=${unlock}`;
}

export function createDeviceService(deps: DeviceServiceDeps): DeviceService {
  const owned = async (accountId: string, deviceId: string): Promise<Device> => {
    const device = await deps.devices.get(deviceId);
    if (!device || device.accountId !== accountId) {
      throw new DeviceError('device_not_found', 404, 'no such device for this account');
    }
    return device;
  };
  const record = (type: string, accountId: string, detail: Record<string, unknown>, from?: { ip?: string | null; clientId?: string | null }) =>
    deps.audit?.record({ type, accountId, clientId: from?.clientId ?? null, ip: from?.ip ?? null, detail }) ?? Promise.resolve();
  const request = (by: DeviceActor | DeviceRequest): DeviceRequest => (typeof by === 'string' ? { by } : by);

  return {
    async issueEnrollment(accountId, createdBy, session) {
      const now = deps.now ?? Date.now;
      // One transaction under the account's row lock, as enrollments take it (enrollment.ts): a code
      // is issued wholly before an enrollment (whose first device voids it and its recovery codes)
      // or wholly after, and then sees that device (red-team: requests kept in flight by a password
      // session got codes, and recovery codes, just after the owner's first phone voided the rest).
      const issued = await deps.db.transaction(async (tx) => {
        const account = await createAccountStore(tx).findByIdForUpdate(accountId);
        if (!account) throw new DeviceError('account_not_found', 404, 'no such account');
        const devices = createDeviceRegistry(tx);
        const refusal = session ? selfIssueRefusal(session, account, (await devices.listByAccount(accountId)).length) : null;
        if (refusal === 'session_ended') throw new DeviceError('session_ended', 401, 'the account\'s sessions were ended after this one began: sign in again');
        if (refusal) throw new DeviceError('enrollment_not_allowed', 409, 'the account has an authenticator now: sign in with it to add another');
        const code = await createEnrollmentCodes(tx, { now }).issue(accountId, createdBy);
        // Before the first device, every code comes with its own recovery codes, so losing this phone
        // later never leaves the password alone in charge of the account. The first enrollment keeps
        // only the set of the code it used (enrollment.ts): a set given to someone else is void then.
        // First: no device of the account confirmed by its phone yet (the enrollment's own rule).
        const first = !(await devices.hasConfirmed(accountId));
        const recoveryCodes = first ? await createRecoveryCodes(tx, { now }).issue(accountId, enrollmentCodeHash(code.code)!) : null;
        return { ...code, recoveryCodes };
      });
      const { recoveryCodes, ...code } = issued;
      const url = enrollmentUrl(deps.issuer, code.code, deps.unlock);
      // The code itself never goes into the audit trail: it is a bearer secret for 15 minutes.
      await record('device.enroll_code.issued', accountId, { createdBy, expiresAt: code.expiresAt.toISOString() }, session);
      if (recoveryCodes) await record('recovery_codes.issued', accountId, { createdBy, count: recoveryCodes.length }, session);
      const qrSvg = await (await import('qrcode')).default.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { ...code, url, qrSvg, ...(recoveryCodes ? { recoveryCodes } : {}) };
    },

    listDevices: (accountId, opts) => deps.devices.listByAccount(accountId, opts),

    async renameDevice(accountId, deviceId, name, asked = 'account') {
      const from = request(asked);
      const clean = parseBody(deviceNameSchema, name);
      const device = await owned(accountId, deviceId);
      if (!(await deps.devices.rename(device.id, clean))) {
        throw new DeviceError('device_revoked', 409, 'a revoked device cannot be renamed');
      }
      await record('device.renamed', accountId, { deviceId, name: clean, by: from.by }, from);
      return { ...device, name: clean };
    },

    async revokeDevice(accountId, deviceId, asked = 'account') {
      const from = request(asked);
      const device = await owned(accountId, deviceId);
      // Revoking twice is not an error: the device ends revoked either way.
      if (await deps.devices.revoke(device.id)) {
        await record('device.revoked', accountId, { deviceId, by: from.by }, from);
        await deps.onRevoked?.(accountId, deviceId);
      }
      return (await deps.devices.get(device.id))!;
    },
  };
}
