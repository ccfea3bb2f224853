import type { Challenge, Decision } from '../challenge/types.js';
import type { Device } from '../devices/types.js';

/** Stable codes for every refusal of a device's answer (docs/device-api.md, section 4). */
export type ApprovalErrorCode =
  | 'invalid_request'
  | 'unsupported_alg'
  | 'unknown_device'
  | 'device_revoked'
  | 'invalid_signature'
  | 'challenge_not_found'
  | 'wrong_user'
  | 'nonce_mismatch'
  | 'challenge_expired'
  | 'challenge_resolved'
  | 'stale_response'
  | 'invalid_otp'
  | 'otp_replayed'
  | 'number_required';

/** The payload of a device's signed answer. */
export interface ResponseClaims {
  cid: string;
  nonce: string;
  decision: Decision;
  number?: number;
  otp: string;
  /** Epoch seconds. */
  iat: number;
}

export type Verdict =
  | {
      ok: true;
      decision: Decision;
      /** The TOTP time step that matched; the caller must accept it atomically (step > lastOtpStep). */
      step: number;
      claims: ResponseClaims;
      /** What the challenge becomes. */
      outcome: 'approved' | 'denied';
      /** Why it is denied: 'denied', 'reported', 'wrong_number'; null when approved. */
      reason: 'denied' | 'reported' | 'wrong_number' | null;
    }
  | { ok: false; code: ApprovalErrorCode; status: number; description: string };

export interface VerifyResponseInput {
  /** The compact JWS the device sent. */
  jws: string;
  /** The challenge named in the request path (null when not found). */
  challenge: Challenge | null;
  /** The device named by the JWS `kid` (null when unknown). */
  device: Device | null;
  /** The device's TOTP secret, base32, decrypted by the caller. */
  totpSecret: string;
  /** Epoch milliseconds. */
  now: number;
}

/** Device-authenticated request check (docs/device-api.md, section 2). */
export type DeviceAuthVerdict =
  | { ok: true; deviceId: string; jti: string; exp: number; /** The `otp` claim when it is a string (unregister proves one). */ otp: string | null }
  | { ok: false; code: 'invalid_token' | 'unsupported_alg' | 'unknown_device' | 'device_revoked'; status: 401; description: string };

export interface VerifyDeviceAuthInput {
  jws: string;
  device: Device | null;
  method: string;
  path: string;
  /** `${issuer}/api/device` */
  audience: string;
  now: number;
}
