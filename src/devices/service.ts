import type { AuditLog } from '../audit/types.js';
import { enrollmentCodeHash, type EnrollmentCodes } from './enrollment-codes.js';
import type { RecoveryCodes } from './recovery-codes.js';
import { DeviceError } from './errors.js';
import type { DeviceRegistry } from './registry.js';
import type { Device, UnlockPolicy } from './types.js';
import { deviceNameSchema, parseBody } from './validate.js';

/**
 * What the admin CLI and the self-service page do with devices. Every call names the account it
 * acts for, and a device of another account is answered as absent (`device_not_found`).
 */
export interface DeviceService {
  issueEnrollment(accountId: string, createdBy: string): Promise<EnrollmentOffer>;
  listDevices(accountId: string): Promise<Device[]>;
  renameDevice(accountId: string, deviceId: string, name: string): Promise<Device>;
  revokeDevice(accountId: string, deviceId: string): Promise<Device>;
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
  codes: EnrollmentCodes;
  recovery: RecoveryCodes;
  issuer: string;
  audit?: AuditLog;
  /** The unlock policy the app must set up (DEVICE_UNLOCK). */
  unlock?: UnlockPolicy;
  /** Called once a device is newly revoked (app.ts: the account's sessions end with it). */
  onRevoked?: (accountId: string, deviceId: string) => Promise<void>;
}

/** PostgreSQL's foreign_key_violation: the account does not exist. */
const FK_VIOLATION = '23503';

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
  const record = (type: string, accountId: string, detail: Record<string, unknown>) =>
    deps.audit?.record({ type, accountId, detail }) ?? Promise.resolve();

  return {
    async issueEnrollment(accountId, createdBy) {
      let issued: { code: string; expiresAt: Date };
      try {
        issued = await deps.codes.issue(accountId, createdBy);
      } catch (err) {
        if ((err as { code?: unknown }).code === FK_VIOLATION) {
          throw new DeviceError('account_not_found', 404, 'no such account');
        }
        throw err;
      }
      const url = enrollmentUrl(deps.issuer, issued.code, deps.unlock);
      // The code itself never goes into the audit trail: it is a bearer secret for 15 minutes.
      await record('device.enroll_code.issued', accountId, { createdBy, expiresAt: issued.expiresAt.toISOString() });
      // Before the first device, every code comes with its own recovery codes, so losing this phone
      // later never leaves the password alone in charge of the account. The first enrollment keeps
      // only the set of the code it used (enroll.ts): a set given to someone else is void then.
      // First: no device of the account confirmed by its phone yet (the enrollment's own rule, enrollment.ts).
      const first = !(await deps.devices.hasConfirmed(accountId));
      const recoveryCodes = first ? await deps.recovery.issue(accountId, enrollmentCodeHash(issued.code)!) : null;
      if (recoveryCodes) await record('recovery_codes.issued', accountId, { createdBy, count: recoveryCodes.length });
      const qrSvg = await (await import('qrcode')).default.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { ...issued, url, qrSvg, ...(recoveryCodes ? { recoveryCodes } : {}) };
    },

    listDevices: (accountId) => deps.devices.listByAccount(accountId),

    async renameDevice(accountId, deviceId, name) {
      const clean = parseBody(deviceNameSchema, name);
      const device = await owned(accountId, deviceId);
      if (!(await deps.devices.rename(device.id, clean))) {
        throw new DeviceError('device_revoked', 409, 'a revoked device cannot be renamed');
      }
      await record('device.renamed', accountId, { deviceId, name: clean });
      return { ...device, name: clean };
    },

    async revokeDevice(accountId, deviceId) {
      const device = await owned(accountId, deviceId);
      // Revoking twice is not an error: the device ends revoked either way.
      if (await deps.devices.revoke(device.id)) {
        await record('device.revoked', accountId, { deviceId, by: 'account' });
        await deps.onRevoked?.(accountId, deviceId);
      }
      return (await deps.devices.get(device.id))!;
    },
  };
}
