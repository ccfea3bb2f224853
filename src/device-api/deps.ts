import type { Redis } from '../storage/redis.js';
import type { AuditLog } from '../audit/types.js';
import type { Challenge, ChallengeStore, Resolution } from '../challenge/types.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { EnrollmentCodes } from '../devices/enrollment-codes.js';
import type { OtpThrottle } from '../devices/otp-proof.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { LastUseWriter } from '../devices/last-use.js';
import type { DeviceNotice, UnlockPolicy } from '../devices/types.js';
import type { Db } from '../storage/db.js';
import type { ErrorLog } from '../http/edge.js';
import type { RateLimit } from './rate-limit.js';

/** What the device API is built from (app.ts composes it); every handler takes this one shape. */

export interface DevicePolicy {
  /** True only when every request will carry a number (each challenge still says so itself). */
  numberMatching: boolean;
  unlock: UnlockPolicy;
  pollIntervalSeconds: number;
}

export interface DeviceApiDeps {
  /** For the enrollment transaction and account lookups (through the account store). */
  db: Db;
  devices: DeviceRegistry;
  /** A confirmed device's last use, written behind (devices/last-use.ts); without it, at once. */
  lastUse?: LastUseWriter;
  codes: EnrollmentCodes;
  challenges: ChallengeStore;
  /** Shared state: device-auth jti replay records and the answer rate limit. */
  redis: Redis;
  secretBox: SecretBox;
  issuer: string;
  vapidPublicKey: string;
  /** The enrollment policy; the server's own (DEVICE_UNLOCK, the apps' number matching), whoever asks. */
  policy: (accountId?: string) => Promise<DevicePolicy>;
  audit: AuditLog;
  /** The account's passcode limits: wrong TOTPs from devices count there too (devices/otp-proof.ts). */
  throttle: OtpThrottle;
  now?: () => number;
  /** Active devices an account may have (MAX_DEVICES_PER_ACCOUNT); default 5. */
  maxDevicesPerAccount?: number;
  /** Tells the account's devices but one (a new enrollment's own) of something: best effort. */
  notifyDevices?: (accountId: string, notice: DeviceNotice, exceptDeviceId: string) => Promise<unknown>;
  /** Called once per resolved challenge, after it is stored and published. */
  onResolved?: (challenge: Challenge, resolution: Resolution) => Promise<void>;
  /**
   * When pushes to the account resume (epoch ms), or null when they are not paused: a report's answer
   * tells the phone (section 4a). app.ts reads the push-fatigue store's mute.
   */
  pushPausedUntil?: (accountId: string, now: number) => Promise<number | null>;
  /** Called after the device unregistered itself (app.ts: the account's sessions end with it). */
  onDeviceRevoked?: (accountId: string, deviceId: string, keepDevice?: string) => Promise<void>;
  /** Answers per device; default 30 a minute. */
  responseRateLimit?: RateLimit;
  /**
   * Optional allow-list of push services. The endpoint comes from the device, and the IdP will POST
   * to it: restricting it to known push services closes a server-side request forgery path.
   */
  allowPushEndpoint?: (endpoint: URL) => boolean;
  log?: ErrorLog;
}
