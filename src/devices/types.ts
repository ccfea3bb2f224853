import type { JWK } from 'jose';
import type { PushSubscriptionJson } from '../push/types.js';

export type DeviceStatus = 'active' | 'revoked';
export type UnlockPolicy = 'none' | 'pin' | 'webauthn';

/** A registered authenticator (a phone's PWA, or the simulated one in tests). */
export interface Device {
  id: string;
  accountId: string;
  name: string;
  /** ECDSA P-256 public key (kty EC, crv P-256, x, y), made non-extractable on the device. */
  publicJwk: JWK;
  push: PushSubscriptionJson | null;
  /** 'none' = poll mode; 'dead' = the push service said 404/410, never used again. */
  pushStatus: 'active' | 'dead' | 'none';
  status: DeviceStatus;
  unlock: UnlockPolicy;
  /** The platform authenticator registered at enrollment (unlock 'webauthn'), else null. */
  webauthn: WebAuthnCredential | null;
  /** Highest TOTP time step typed as a passcode from this device (RFC 6238 5.2: a step is accepted once). */
  lastOtpStep: number;
  /** Highest step accepted from the device's own signed requests (answers, unregister): a separate counter. */
  lastAnswerStep: number;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** Something a user's devices are told that is not a sign-in request (a push of type 'notice'). */
export type DeviceNotice = { kind: 'device_added'; deviceName: string };

/** The platform authenticator registered at enrollment (W3C WebAuthn credential record, 4). */
export interface WebAuthnCredential {
  /** base64url of the credential id. */
  credentialId: string;
  /** base64url of the COSE public key. */
  publicKey: string;
  /** The signature counter last seen: a later assertion must carry a higher one, unless both are 0. */
  counter: number;
  transports?: string[];
  /** The credential may be synced to other devices (BE flag at registration). */
  backupEligible: boolean;
  /** It was backed up when last used (BS flag). */
  backedUp: boolean;
}
