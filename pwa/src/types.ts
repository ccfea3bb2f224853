import type { Sealed } from './keys.js';
import type { TotpParams } from './totp.js';

// The push payload and subscription shapes are the server's own (types only; nothing is bundled).
export type { NoticePayload, PushPayload, PushSubscriptionJson } from '../../src/push/types.js';

/** Shapes of docs/device-api.md as the app sees them, and what the app stores per account. */

export type UnlockPolicy = 'none' | 'pin' | 'webauthn';

export interface Policy {
  numberMatching: boolean;
  unlock: UnlockPolicy;
  pollIntervalSeconds: number;
}

export interface EnrollResponse {
  deviceId: string;
  issuer: string;
  account: { id: string; username: string; displayName: string };
  totp: { secret: string } & TotpParams;
  policy: Policy;
  vapidPublicKey: string | null;
}

// The challenge as the device API serves it, and its vocabulary, are the server's own types.
export type { ChallengeStatus, Decision } from '../../src/challenge/types.js';
/** GET /api/device/challenges/{id} */
export type { DeviceChallengeView as DeviceChallenge } from '../../src/challenge/types.js';

export interface AnswerResult {
  status: 'approved' | 'denied';
  reason?: 'wrong_number' | 'denied' | 'reported';
}

/** Keys kept in the clear: both CryptoKeys are non-extractable. */
export interface PlainSecrets {
  kind: 'plain';
  privateKey: CryptoKey;
  totpKey: CryptoKey;
}

/** Keys sealed under the PIN (keys.ts); nothing here signs or shows a passcode without it. */
export interface PinSecrets {
  kind: 'pin';
  salt: Uint8Array<ArrayBuffer>;
  iterations: number;
  sealedPrivateKey: Sealed;
  sealedTotpSecret: Sealed;
  /** Wrong PINs in a row, and the time before which no new attempt is taken (epoch ms). */
  failures: number;
  retryAfter: number;
}

export interface AccountRecord {
  /** `${issuer} ${deviceId}`: one IdP may hold several users, one app may hold several IdPs. */
  id: string;
  issuer: string;
  deviceId: string;
  deviceName: string;
  account: { id: string; username: string; displayName: string };
  policy: Policy;
  totp: TotpParams;
  vapidPublicKey: string | null;
  push: {
    status: 'active' | 'none';
    endpoint: string | null;
    /** The service-worker registration scope holding the subscription. */
    scope: string | null;
  };
  /** Highest TOTP step this app has sent for the account (RFC 6238 5.2: a step is used once). */
  lastUsedStep: number;
  /** Set when the IdP answers device_revoked. */
  revoked: boolean;
  /** When unlock is 'webauthn': the platform credential registered at enrollment. */
  webauthn: { credentialId: string } | null;
  secrets: PlainSecrets | PinSecrets;
  createdAt: number;
}

export function accountKey(issuer: string, deviceId: string): string {
  return `${issuer} ${deviceId}`;
}
