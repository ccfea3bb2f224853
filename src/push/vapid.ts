import { createECDH, createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** A VAPID key pair (RFC 8292 3.2): base64url, public = 65-byte uncompressed P-256 point, private = 32 bytes. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

export interface VapidConfig extends VapidKeys {
  /** RFC 8292 2.1: a contact for the push service operator, `mailto:` or `https:`. Apple rejects JWTs without it. */
  subject: string;
}

export class VapidConfigError extends Error {
  readonly code = 'vapid_config_invalid';
  override readonly name = 'VapidConfigError';
}

/** A fresh key pair. Keep the private key secret; the public one is each subscription's applicationServerKey. */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  // RFC 8292 3.2: the public key as an uncompressed point (65 bytes); the private scalar as 32
  // bytes, left-padded (getPrivateKey drops leading zero bytes).
  const privateKey = Buffer.alloc(32);
  const d = ecdh.getPrivateKey();
  d.copy(privateKey, 32 - d.length);
  return { publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: privateKey.toString('base64url') };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeKey(value: string, bytes: number, what: string): Buffer {
  const raw = BASE64URL.test(value) ? Buffer.from(value, 'base64url') : Buffer.alloc(0);
  if (raw.length !== bytes) throw new VapidConfigError(`VAPID ${what} must be ${bytes} bytes of base64url`);
  return raw;
}

/** Fails fast at start on a config that every push service would reject later. */
export function checkVapidConfig(config: VapidConfig): { publicKey: Buffer; privateKey: Buffer } {
  let protocol = '';
  try {
    protocol = new URL(config.subject).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'mailto:' && protocol !== 'https:') {
    throw new VapidConfigError('VAPID subject must be a mailto: or https: URL (RFC 8292 2.1)');
  }
  const publicKey = decodeKey(config.publicKey, 65, 'public key');
  const privateKey = decodeKey(config.privateKey, 32, 'private key');
  let derived: Buffer;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey);
    derived = ecdh.getPublicKey();
  } catch {
    throw new VapidConfigError('VAPID private key is not a valid P-256 scalar');
  }
  // A swapped or stale public key would make every push service answer 401/403.
  if (!derived.equals(publicKey)) throw new VapidConfigError('VAPID public key does not match the private key');
  return { publicKey, privateKey };
}

export interface VapidSignerOptions {
  /** Milliseconds since the epoch; injected so tests can move time. */
  now?: () => number;
  /** JWT lifetime. RFC 8292 2: at most 24 h ahead; 12 h (web-push's default) leaves room for clock skew. */
  lifetimeSeconds?: number;
  /** Sign a new JWT this long before the cached one expires, so no request carries an almost-dead token. */
  renewBeforeSeconds?: number;
  /** Bound on cached origins: endpoints come from devices, so their origins are not a fixed set. */
  maxOrigins?: number;
}

interface CachedHeader {
  header: Promise<string>;
  renewAtMs: number;
}

/**
 * Makes `Authorization: vapid t=<jwt>, k=<public key>` (RFC 8292 3) for a push service's origin.
 * The header is cached per origin until shortly before its expiry: web-push signs a new JWT and
 * re-parses the PEM for every message, which is most of its cost per push.
 */
export class VapidSigner {
  readonly publicKey: string;
  readonly #subject: string;
  readonly #key: KeyObject;
  readonly #now: () => number;
  readonly #lifetime: number;
  readonly #renewBefore: number;
  readonly #maxOrigins: number;
  readonly #cache = new Map<string, CachedHeader>();
  #signed = 0;

  constructor(config: VapidConfig, options: VapidSignerOptions = {}) {
    const { publicKey, privateKey } = checkVapidConfig(config);
    this.publicKey = config.publicKey;
    this.#subject = config.subject;
    this.#key = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: publicKey.subarray(1, 33).toString('base64url'),
        y: publicKey.subarray(33, 65).toString('base64url'),
        d: privateKey.toString('base64url'),
      },
    });
    this.#now = options.now ?? Date.now;
    this.#lifetime = options.lifetimeSeconds ?? 12 * 3600;
    this.#renewBefore = options.renewBeforeSeconds ?? 3600;
    this.#maxOrigins = options.maxOrigins ?? 1000;
    if (this.#lifetime > 24 * 3600 || this.#renewBefore >= this.#lifetime) {
      throw new VapidConfigError('VAPID lifetime must be at most 24 h and longer than the renewal margin');
    }
  }

  /** How many JWTs this signer has made (the cache's effect is visible here). */
  get signatures(): number {
    return this.#signed;
  }

  /** The Authorization header for a push service; `endpointOrOrigin` may be a whole endpoint URL. */
  authorization(endpointOrOrigin: string): Promise<string> {
    // The sender passes the origin itself: a cached, still fresh header needs no URL parse.
    const hit = this.#cache.get(endpointOrOrigin);
    if (hit && this.#now() < hit.renewAtMs) return hit.header;
    // RFC 8292 2: `aud` is the origin of the push resource, scheme://host[:port].
    const origin = new URL(endpointOrOrigin).origin;
    if (origin === 'null') return Promise.reject(new TypeError('push endpoint has no origin'));
    const nowMs = this.#now();
    const cached = this.#cache.get(origin);
    if (cached && nowMs < cached.renewAtMs) return cached.header;

    const exp = Math.floor(nowMs / 1000) + this.#lifetime;
    const header = this.#sign(origin, exp);
    this.#cache.delete(origin);
    if (this.#cache.size >= this.#maxOrigins) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    const entry: CachedHeader = { header, renewAtMs: (exp - this.#renewBefore) * 1000 };
    this.#cache.set(origin, entry);
    // Concurrent sends share the pending promise; a failed signature is not kept.
    header.catch(() => {
      if (this.#cache.get(origin) === entry) this.#cache.delete(origin);
    });
    return header;
  }

  async #sign(origin: string, exp: number): Promise<string> {
    this.#signed += 1;
    const jwt = await new SignJWT({ sub: this.#subject })
      .setProtectedHeader({ typ: 'JWT', alg: 'ES256' })
      .setAudience(origin)
      .setExpirationTime(exp)
      .sign(this.#key);
    return `vapid t=${jwt}, k=${this.publicKey}`;
  }
}
