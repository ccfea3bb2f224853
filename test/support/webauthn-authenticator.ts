import type { KeyObject } from 'node:crypto';
import type { AssertionResponseJson, RegistrationOptionsJson, RegistrationResponseJson } from '../../src/device-api/contract.js';
import { b64, Cred, sha256 } from './raw-webauthn.js';

/**
 * A software WebAuthn platform authenticator (W3C WebAuthn Level 3, 6.3.2 and 6.3.3) for tests at
 * the API level: it makes a P-256 credential with attestation 'none' and signs assertions, as a
 * phone's authenticator with its screen lock would, and can be told to lie (no UV flag, another
 * origin, a counter that does not grow) to play an attacker. The well-behaved face of the raw
 * authenticator (./raw-webauthn.ts), whose every byte a refusal test can set.
 */
export interface Tampering {
  /** Authenticator flags; UP|UV by default. */
  flags?: number;
  origin?: string;
  rpId?: string;
  type?: string;
  /** The signature counter to report; by default one more than last time. */
  counter?: number;
  /** Sign with another key (a forged assertion). */
  key?: KeyObject;
}

export class SoftwareWebAuthn {
  private readonly cred: Cred;

  constructor(readonly origin: string) {
    this.cred = new Cred(origin, 'ec');
  }

  get credentialId(): string {
    return this.cred.idB64;
  }

  /** Client data as a browser writes it, when the test changes its origin or type. */
  private clientData(t: Tampering, type: string, challenge: string): Buffer | undefined {
    if (t.origin === undefined && t.type === undefined) return undefined;
    return Buffer.from(JSON.stringify({ type: t.type ?? type, challenge, origin: t.origin ?? this.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create({ publicKey: options }) then .toJSON(). */
  create(options: Pick<RegistrationOptionsJson, 'challenge'> & { rp: { id?: string } }, t: Tampering = {}): RegistrationResponseJson {
    const rpId = t.rpId ?? options.rp.id;
    const clientData = this.clientData(t, 'webauthn.create', options.challenge);
    return this.cred.registration({ challenge: options.challenge, rp: rpId === undefined ? {} : { id: rpId } }, {
      ...(t.flags === undefined ? {} : { flags: t.flags }), ...(clientData ? { clientData } : {}),
    }) as RegistrationResponseJson;
  }

  /** The public key as DER SubjectPublicKeyInfo, base64url (the form stored before the ceremony). */
  publicKeySpki(): string {
    return b64(this.cred.keys.publicKey.export({ format: 'der', type: 'spki' }));
  }

  /** navigator.credentials.get() for `challenge` (base64url), then .toJSON(). */
  assert(challenge: string, t: Tampering = {}): AssertionResponseJson {
    const clientData = this.clientData(t, 'webauthn.get', challenge);
    return this.cred.assert(challenge, {
      ...(t.flags === undefined ? {} : { flags: t.flags }), ...(t.counter === undefined ? {} : { counter: t.counter }),
      ...(t.key ? { key: t.key } : {}), ...(t.rpId === undefined ? {} : { rpIdHash: sha256(t.rpId) }), ...(clientData ? { clientData } : {}),
    }) as AssertionResponseJson;
  }
}
