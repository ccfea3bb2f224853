import type { Sealed } from './keys.js';
import type { TotpParams } from './totp.js';

// The device API's wire contract is the server's own module (docs/device-api.md); the app imports
// nothing else of the server.
export type {
  AnswerResult, AssertionResponseJson, ChallengeStatus, Decision, EnrollRequest, EnrollResponse, NoticePayload, PushPayload,
  PushSubscriptionJson, RegistrationOptionsJson, ReportResult, RegistrationOptionsResponse, RegistrationResponseJson, UnlockPolicy,
} from '../../src/device-api/contract.js';
/** GET /api/device/challenges/{id} */
export type { DeviceChallengeView as DeviceChallenge, DevicePolicyView as Policy } from '../../src/device-api/contract.js';
import type { DevicePolicyView as Policy } from '../../src/device-api/contract.js';

/** What the app stores per account. */

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
