import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { AssertionResponseJson, RegistrationOptionsJson, RegistrationResponseJson } from '../../src/device-api/contract.js';

/**
 * A software WebAuthn platform authenticator (W3C WebAuthn Level 3, 6.3.2 and 6.3.3) for tests at
 * the API level: it makes a P-256 credential with attestation 'none' and signs assertions, as a
 * phone's authenticator with its screen lock would, and can be told to lie (no UV flag, another
 * origin, a counter that does not grow) to play an attacker.
 */
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

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
  readonly credentialId = b64(randomBytes(16));
  private readonly keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  private counter = 0;

  constructor(readonly origin: string) {}

  private get rpId(): string {
    return new URL(this.origin).hostname;
  }

  /** navigator.credentials.create({ publicKey: options }) then .toJSON(). */
  create(options: Pick<RegistrationOptionsJson, 'challenge'> & { rp: { id?: string } }, t: Tampering = {}): RegistrationResponseJson {
    const jwk = this.keys.publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')],
    ]));
    const id = Buffer.from(this.credentialId, 'base64url');
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([
      sha256(t.rpId ?? options.rp.id ?? this.rpId), Buffer.from([t.flags ?? (FLAG_UP | FLAG_UV | FLAG_AT)]), Buffer.alloc(4),
      Buffer.alloc(16), idLength, id, Buffer.from(cose),
    ]);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', new Uint8Array(authData)]]) as never);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: t.type ?? 'webauthn.create', challenge: options.challenge, origin: t.origin ?? this.origin, crossOrigin: false }));
    return {
      id: this.credentialId, rawId: this.credentialId, type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), attestationObject: b64(attestationObject), transports: ['internal'] },
      authenticatorAttachment: 'platform', clientExtensionResults: {},
    };
  }

  /** The public key as DER SubjectPublicKeyInfo, base64url (the form stored before the ceremony). */
  publicKeySpki(): string {
    return b64(this.keys.publicKey.export({ format: 'der', type: 'spki' }));
  }

  /** navigator.credentials.get() for `challenge` (base64url), then .toJSON(). */
  assert(challenge: string, t: Tampering = {}): AssertionResponseJson {
    this.counter = t.counter ?? this.counter + 1;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.counter);
    const authData = Buffer.concat([sha256(t.rpId ?? this.rpId), Buffer.from([t.flags ?? (FLAG_UP | FLAG_UV)]), count]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: t.type ?? 'webauthn.get', challenge, origin: t.origin ?? this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), t.key ?? this.keys.privateKey);
    return {
      id: this.credentialId, rawId: this.credentialId, type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), authenticatorData: b64(authData), signature: b64(signature) },
      authenticatorAttachment: 'platform', clientExtensionResults: {},
    };
  }
}
