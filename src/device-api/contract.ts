/**
 * The device API's wire contract (docs/device-api.md): every body an authenticator sends or
 * receives, the stable error codes, and the challenge as a device sees it. The server's handlers
 * and the PWA (pwa/src/types.ts) both import it, so the two cannot drift apart silently.
 *
 * Types and constants only, no imports of server code: the PWA type-checks this file with the DOM
 * libraries and bundles nothing but the constants. The push payloads are the push engine's
 * (src/push/types.ts, a leaf file of types), re-exported as the one place a device learns of them.
 */

export type { NoticePayload, PushPayload, PushSubscriptionJson } from '../push/types.js';
import type { PushSubscriptionJson } from '../push/types.js';

/** Everything lives under `${issuer}${DEVICE_API_PATH}`. */
export const DEVICE_API_PATH = '/api/device';
/** `typ` of the `Authorization: Device <JWS>` token (docs/device-api.md section 2). */
export const DEVICE_AUTH_TYP = 'device-auth+jwt';
/** `typ` of a signed answer (docs/device-api.md section 4). */
export const RESPONSE_TYP = 'pushotp-response+jwt';

export type UnlockPolicy = 'none' | 'pin' | 'webauthn';
export type Decision = 'approve' | 'deny' | 'report';
export type ChallengeStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** What the server asks of the app (enrollment answer). */
export interface DevicePolicyView {
  numberMatching: boolean;
  unlock: UnlockPolicy;
  pollIntervalSeconds: number;
}

// ---- WebAuthn (W3C WebAuthn Level 3 JSON forms, as PublicKeyCredential.toJSON() gives them) ----

/** base64url without padding. */
export type Base64Url = string;

/** Section 1a: what `navigator.credentials.create({ publicKey })` needs, in its JSON form. */
export interface RegistrationOptionsJson {
  rp: { id?: string; name: string };
  user: { id: Base64Url; name: string; displayName: string };
  challenge: Base64Url;
  pubKeyCredParams: Array<{ type: string; alg: number }>;
  timeout?: number;
  excludeCredentials?: Array<{ type: string; id: Base64Url; transports?: string[] }>;
  authenticatorSelection?: {
    authenticatorAttachment?: 'platform' | 'cross-platform';
    residentKey?: 'discouraged' | 'preferred' | 'required';
    requireResidentKey?: boolean;
    userVerification?: 'discouraged' | 'preferred' | 'required';
  };
  attestation?: 'none' | 'indirect' | 'direct' | 'enterprise';
  hints?: string[];
  extensions?: Record<string, unknown>;
}

/** Section 1: the result of the registration ceremony (RegistrationResponseJSON). */
export interface RegistrationResponseJson {
  id: Base64Url;
  rawId: Base64Url;
  type: 'public-key';
  response: {
    clientDataJSON: Base64Url;
    attestationObject: Base64Url;
    authenticatorData?: Base64Url;
    transports?: string[];
    publicKeyAlgorithm?: number;
    publicKey?: Base64Url;
  };
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Record<string, unknown>;
}

/** Section 4: the assertion an approval carries under the WebAuthn unlock policy (AuthenticationResponseJSON). */
export interface AssertionResponseJson {
  id: Base64Url;
  rawId: Base64Url;
  type: 'public-key';
  response: {
    clientDataJSON: Base64Url;
    authenticatorData: Base64Url;
    signature: Base64Url;
    userHandle?: Base64Url;
  };
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Record<string, unknown>;
}

// ---- Section 1: enrollment ----

/** `POST /api/device/enroll/webauthn-options` (only under the WebAuthn unlock policy). */
export interface RegistrationOptionsRequest {
  code: string;
}
export interface RegistrationOptionsResponse {
  publicKey: RegistrationOptionsJson;
}

/** `POST /api/device/enroll` */
export interface EnrollRequest {
  code: string;
  name: string;
  publicJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  /** A Web Push subscription, or null for poll mode; a missing `push` is read as null. */
  push?: PushSubscriptionJson | null;
  /** Required under the WebAuthn unlock policy: the ceremony run with the options of section 1a. */
  webauthn?: RegistrationResponseJson;
}

/** `201` to `POST /api/device/enroll` */
export interface EnrollResponse {
  deviceId: string;
  issuer: string;
  account: { id: string; username: string; displayName: string };
  /**
   * RFC 6238 as this server runs it, always: HMAC-SHA-1, 6 digits, a 30-second step, `secret` in
   * base32 (160 bits); src/device-api/enroll.ts is the one place this body is built.
   */
  totp: { secret: string; algorithm: 'SHA1'; digits: 6; period: 30 };
  policy: DevicePolicyView;
  /** The server's VAPID public key (base64url), the `applicationServerKey` for Web Push: always sent. */
  vapidPublicKey: string;
}

// ---- Section 3: challenges ----

/** `GET /api/device/challenges/{id}`; `GET /api/device/challenges` answers `{ challenges: [...] }`. */
export interface DeviceChallengeView {
  id: string;
  nonce: string;
  app: string;
  ip: string;
  location: string | null;
  browser: string;
  /** OpenID CIBA binding_message of a request from an app without a login page, else null. */
  bindingMessage: string | null;
  createdAt: number;
  expiresAt: number;
  status: ChallengeStatus;
  numberMatching: boolean;
  numberChoices: number[] | null;
  /** Present and true when the user must type the number seen at login (numberChoices is then null). */
  verifiedPush?: boolean;
}
export interface ChallengeListResponse {
  challenges: DeviceChallengeView[];
}

// ---- Section 4: answers ----

/** `POST /api/device/challenges/{id}/response` */
export interface AnswerRequest {
  /** Compact JWS, `typ` RESPONSE_TYP. */
  response: string;
  webauthn?: AssertionResponseJson;
}
export interface AnswerResult {
  status: 'approved' | 'denied';
  reason?: 'wrong_number' | 'denied' | 'reported';
}

/**
 * `POST /api/device/challenges/{id}/report` (section 4a): a request this account's phone denied is
 * reported as not the user's own, after the fact. Device-authenticated (section 2), no body.
 */
export interface ReportResult {
  status: 'reported';
  /** When pushes to the account resume (epoch ms); null when the IdP mutes nothing (PUSH_MUTE_AFTER_REPORT=0). */
  pausedUntil: number | null;
}

// ---- Sections 5 and 6 ----

/** `PUT /api/device/push-subscription` */
export interface PushUpdateRequest {
  push: PushSubscriptionJson | null;
}
export interface PushUpdateResponse {
  pushStatus: 'active' | 'none';
}
/** `DELETE /api/device` */
export interface UnregisterResponse {
  status: 'revoked';
}

// ---- Errors ----

/** Every `error` the device API answers with (docs/device-api.md lists when). */
export type DeviceApiErrorCode =
  | 'invalid_request'
  | 'invalid_token'
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
  | 'number_required'
  | 'challenge_not_denied'
  | 'already_reported'
  | 'invalid_enrollment_code'
  | 'webauthn_required'
  | 'webauthn_registration_failed'
  | 'user_verification_required'
  | 'user_verification_failed'
  | 'rate_limited'
  | 'too_many_attempts'
  | 'account_disabled'
  | 'device_limit_reached'
  | 'not_found'
  | 'method_not_allowed'
  | 'server_error';

export interface ErrorBody {
  error: DeviceApiErrorCode;
  error_description: string;
}
