import { createCipheriv, createECDH, createHmac, randomFillSync, type ECDH } from 'node:crypto';
import { nativeEcdh, type NativeEcdh } from './native-ecdh.js';

/**
 * Message encryption for Web Push (RFC 8291) in the aes128gcm content coding (RFC 8188), in one
 * record. Written on node:crypto directly: the web-push package's encrypt (via http_ece) costs
 * about twice as much CPU per message, most of it in key handling around the same ECDH.
 *
 * Every message gets a fresh application-server ECDH key pair and a fresh 16-byte salt (RFC 8291
 * 3.1 and 4; RFC 8188 2.1), so no two messages share a content-encryption key.
 */

/** RFC 8188 2.1: the record size we announce. One record holds the whole message (Web Push caps it at 4096). */
const RECORD_SIZE = 4096;
const KEY_INFO = Buffer.from('WebPush: info\0', 'latin1');
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0\x01', 'latin1');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0\x01', 'latin1');
const ONE = Buffer.from([1]);
/** RFC 8188 2: the delimiter of the last (here: only) record. */
const LAST_RECORD = Buffer.from([2]);
const TAG_BYTES = 16;
/** Header (salt 16, rs 4, idlen 1, keyid 65) + delimiter + tag. */
export const AES128GCM_OVERHEAD = 16 + 4 + 1 + 65 + 1 + TAG_BYTES;

function hmac(key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

export interface WebPushKeys {
  /** The user agent's public key: an uncompressed P-256 point (65 bytes). */
  p256dh: Buffer;
  /** The user agent's 16-byte authentication secret. */
  auth: Buffer;
}

/**
 * An encrypter: the key pair and ECDH in one native call when native/webpush-ecdh was built
 * (native-ecdh.ts: about half the CPU), else one reusable node:crypto ECDH object, whose
 * generateKeys() makes a new key pair each call at a third of the cost of a new object.
 * Synchronous, so calls never interleave.
 */
export class WebPushEncrypter {
  readonly #ecdh: ECDH = createECDH('prime256v1');
  readonly #native: NativeEcdh | null;
  /** `native`: null for node:crypto's ECDH whatever was built (tests, the benchmark's comparison). */
  constructor(opts: { native?: NativeEcdh | null } = {}) {
    this.#native = opts.native === undefined ? nativeEcdh() : opts.native;
  }

  /** Which ECDH this encrypter uses. */
  get ecdh(): 'native' | 'node:crypto' {
    return this.#native ? 'native' : 'node:crypto';
  }
  /** Fresh salts, 256 at a time (one CSPRNG call instead of one per message); each 16 bytes is handed out once. */
  readonly #salts = Buffer.alloc(16 * 256);
  #nextSalt = this.#salts.length;

  #salt(): Buffer {
    if (this.#nextSalt === this.#salts.length) {
      randomFillSync(this.#salts);
      this.#nextSalt = 0;
    }
    const salt = this.#salts.subarray(this.#nextSalt, this.#nextSalt + 16);
    this.#nextSalt += 16;
    return salt;
  }

  /**
   * The request body for one message. Throws (a plain Error) when p256dh is not a point on the
   * curve; callers check lengths first (checkSubscription). `fixed` replaces the fresh salt and
   * key pair, for known-answer tests only (RFC 8291 Appendix A).
   */
  encrypt(keys: WebPushKeys, plaintext: Buffer, fixed?: { salt: Buffer; asPrivateKey: Buffer }): Buffer {
    // Used (copied into the header) before this synchronous call returns, so the pool may refill later.
    const salt = fixed?.salt ?? this.#salt();
    if (salt.length !== 16) throw new Error('salt must be 16 bytes');
    if (plaintext.length + AES128GCM_OVERHEAD > RECORD_SIZE) throw new Error('plaintext too long for one record');
    let asPublic: Buffer;
    let ecdhSecret: Buffer;
    if (this.#native) {
      const both = this.#native.derive(keys.p256dh, fixed?.asPrivateKey);
      asPublic = both.subarray(0, 65);
      ecdhSecret = both.subarray(65);
    } else {
      if (fixed) {
        this.#ecdh.setPrivateKey(fixed.asPrivateKey);
        asPublic = this.#ecdh.getPublicKey();
      } else {
        asPublic = this.#ecdh.generateKeys();
      }
      ecdhSecret = this.#ecdh.computeSecret(keys.p256dh);
    }
    // RFC 8291 3.3 and 3.4.
    const prkKey = hmac(keys.auth, ecdhSecret);
    const ikm = hmac(prkKey, KEY_INFO, keys.p256dh, asPublic, ONE);
    const prk = hmac(salt, ikm);
    const cek = hmac(prk, CEK_INFO).subarray(0, 16);
    const nonce = hmac(prk, NONCE_INFO).subarray(0, 12);

    // RFC 8188 2.1 header (salt, rs, idlen, keyid), then the one record and its tag.
    const header = Buffer.allocUnsafe(16 + 4 + 1);
    salt.copy(header, 0);
    header.writeUInt32BE(RECORD_SIZE, 16);
    header.writeUInt8(asPublic.length, 20);
    const cipher = createCipheriv('aes-128-gcm', cek, nonce);
    const parts = [header, asPublic, cipher.update(plaintext), cipher.update(LAST_RECORD), cipher.final()];
    parts.push(cipher.getAuthTag());
    return Buffer.concat(parts);
  }
}
