import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

export const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');
export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();
export const UP = 0x01, UV = 0x04, AT = 0x40, ED = 0x80;

export type Kind = 'ec' | 'rsa' | 'ed';

/**
 * A raw software WebAuthn authenticator with every byte under the test's control (COSE key, flags,
 * attestation format, client data), for the ceremonies' refusals; test/support/webauthn-authenticator.ts
 * is the well-behaved one the PWA's flows use.
 */
export class Cred {
  id: Buffer = randomBytes(16);
  counter = 0;
  readonly keys: { publicKey: KeyObject; privateKey: KeyObject };
  constructor(readonly origin: string, readonly kind: Kind = 'ec', bits = 2048) {
    this.keys = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : generateKeyPairSync('ed25519');
  }
  get idB64() { return b64(this.id); }
  get rpId() { return new URL(this.origin).hostname; }

  cose(): Uint8Array {
    const jwk = this.keys.publicKey.export({ format: 'jwk' });
    const B = (s?: string) => new Uint8Array(Buffer.from(s ?? '', 'base64url'));
    if (this.kind === 'ec') return isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, B(jwk.x)], [-3, B(jwk.y)]]));
    if (this.kind === 'rsa') return isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 3], [3, -257], [-1, B(jwk.n)], [-2, B(jwk.e)]]));
    return isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 1], [3, -8], [-1, 6], [-2, B(jwk.x)]]));
  }

  signRaw(data: Buffer, key: KeyObject = this.keys.privateKey, kind: Kind = this.kind) {
    return kind === 'ed' ? sign(null, data, key) : sign('sha256', data, key);
  }

  registration(options: { challenge: string; rp: { id?: string } }, t: {
    fmt?: 'none' | 'packed-self' | 'fido-u2f' | 'packed-wrongalg'; cose?: Uint8Array; flags?: number; id?: Buffer; ext?: Buffer;
    clientData?: Buffer; signCount?: number; attObj?: Buffer; authDataOverride?: Buffer;
  } = {}) {
    const cose = t.cose ?? this.cose();
    const id = t.id ?? this.id;
    const idLength = Buffer.alloc(2); idLength.writeUInt16BE(id.length);
    const count = Buffer.alloc(4); count.writeUInt32BE(t.signCount ?? 0);
    const authData = t.authDataOverride ?? Buffer.concat([
      sha256(options.rp.id ?? this.rpId), Buffer.from([t.flags ?? (UP | UV | AT | (t.ext ? ED : 0))]), count,
      Buffer.alloc(16), idLength, id, Buffer.from(cose), t.ext ?? Buffer.alloc(0),
    ]);
    const clientDataJSON = t.clientData ?? Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: this.origin, crossOrigin: false }));
    let attStmt = new Map<string, unknown>();
    const fmt = t.fmt ?? 'none';
    if (fmt === 'packed-self' || fmt === 'packed-wrongalg') {
      const sig = this.signRaw(Buffer.concat([authData, sha256(clientDataJSON)]));
      attStmt = new Map<string, unknown>([['alg', fmt === 'packed-wrongalg' ? -257 : (this.kind === 'ec' ? -7 : this.kind === 'rsa' ? -257 : -8)], ['sig', new Uint8Array(sig)]]);
    } else if (fmt === 'fido-u2f') {
      const sig = this.signRaw(Buffer.concat([authData, sha256(clientDataJSON)]));
      attStmt = new Map<string, unknown>([['sig', new Uint8Array(sig)], ['x5c', [new Uint8Array(randomBytes(64))]]]);
    }
    const attestationObject = t.attObj ?? Buffer.from(isoCBOR.encode(new Map<string, unknown>([['fmt', fmt === 'packed-wrongalg' ? 'packed' : fmt === 'packed-self' ? 'packed' : fmt], ['attStmt', attStmt], ['authData', new Uint8Array(authData)]]) as never));
    return {
      id: b64(id), rawId: b64(id), type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), attestationObject: b64(attestationObject), transports: ['internal'] },
      authenticatorAttachment: 'platform', clientExtensionResults: {},
    };
  }

  /** An assertion; every part can be replaced. */
  assert(challenge: string, t: {
    flags?: number; counter?: number; rpIdHash?: Buffer; clientData?: Buffer; clientDataObj?: Record<string, unknown>;
    authData?: Buffer; ext?: Buffer; key?: KeyObject; kind?: Kind; id?: string; signature?: Buffer; userHandle?: string;
  } = {}) {
    this.counter = t.counter ?? this.counter + 1;
    const count = Buffer.alloc(4); count.writeUInt32BE(this.counter);
    const authData = t.authData ?? Buffer.concat([t.rpIdHash ?? sha256(this.rpId), Buffer.from([t.flags ?? (UP | UV | (t.ext ? ED : 0))]), count, t.ext ?? Buffer.alloc(0)]);
    const clientDataJSON = t.clientData ?? Buffer.from(JSON.stringify(t.clientDataObj ?? { type: 'webauthn.get', challenge, origin: this.origin, crossOrigin: false }));
    const signature = t.signature ?? this.signRaw(Buffer.concat([authData, sha256(clientDataJSON)]), t.key, t.kind);
    const id = t.id ?? this.idB64;
    return {
      id, rawId: id, type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), authenticatorData: b64(authData), signature: b64(signature), ...(t.userHandle ? { userHandle: t.userHandle } : {}) },
      authenticatorAttachment: 'platform', clientExtensionResults: {},
    };
  }
}
