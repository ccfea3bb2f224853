import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Envelope for secrets at rest (TOTP secrets): AES-256-GCM under a key-encryption key (KEK) named
 * by an id, so the KEK can be rotated: new seals use the active key, old ones still open while
 * their key is listed, and `needsRewrap` finds rows to re-seal.
 *
 * Format: `v1.<kid>.<iv>.<ciphertext>.<tag>`, iv/ciphertext/tag base64url. The version, the kid and
 * the caller's `aad` (e.g. the device id) are authenticated as GCM additional data (NIST SP 800-38D),
 * so a sealed value cannot be relabelled or moved to another row.
 */
export type SecretBoxErrorCode = 'invalid_key_config' | 'malformed' | 'unknown_key' | 'decrypt_failed';

export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
  constructor(readonly code: SecretBoxErrorCode, message: string) {
    super(message);
  }
}

export interface SecretBoxKey {
  /** 1-64 characters of [A-Za-z0-9_-]: it is written into every sealed value. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface SecretBox {
  seal(plaintext: string, aad?: string): string;
  open(sealed: string, aad?: string): string;
  /** True when `sealed` was made with a key other than the active one (re-seal it). */
  needsRewrap(sealed: string): boolean;
}

const VERSION = 'v1';
const KID = /^[A-Za-z0-9_-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
/** 96-bit IV, the size GCM is specified for (SP 800-38D 8.2); random IVs are fine far below 2^32 seals per key. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

function additionalData(kid: string, aad: string | undefined): Buffer {
  // The kid cannot contain '.', so this encoding is unambiguous.
  return Buffer.from(`${VERSION}.${kid}.${aad ?? ''}`, 'utf8');
}

function parse(sealed: string): { kid: string; iv: Buffer; ct: Buffer; tag: Buffer } {
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  const [version, kid, iv, ct, tag] = parts;
  if (parts.length !== 5 || version !== VERSION || !kid || !KID.test(kid)
    || iv === undefined || ct === undefined || tag === undefined
    || !B64URL.test(iv) || !B64URL.test(ct) || !B64URL.test(tag)) {
    throw new SecretBoxError('malformed', 'not a sealed secret');
  }
  const parsed = { kid, iv: Buffer.from(iv, 'base64url'), ct: Buffer.from(ct, 'base64url'), tag: Buffer.from(tag, 'base64url') };
  if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) {
    throw new SecretBoxError('malformed', 'not a sealed secret');
  }
  return parsed;
}

/** The id of the key a sealed value was made with, or null for anything that is not a sealed value. */
export function sealedKeyId(sealed: unknown): string | null {
  try {
    return parse(sealed as string).kid;
  } catch {
    return null;
  }
}

export function createSecretBox(keys: readonly SecretBoxKey[], activeId: string): SecretBox {
  const byId = new Map<string, Buffer>();
  for (const { id, key } of keys) {
    if (!KID.test(id)) throw new SecretBoxError('invalid_key_config', `key id ${JSON.stringify(id)} must match ${KID}`);
    if (!Buffer.isBuffer(key) || key.length !== 32) throw new SecretBoxError('invalid_key_config', `key ${id} must be 32 bytes`);
    if (byId.has(id)) throw new SecretBoxError('invalid_key_config', `key id ${id} is listed twice`);
    byId.set(id, Buffer.from(key));
  }
  const active = byId.get(activeId);
  if (!active) throw new SecretBoxError('invalid_key_config', `active key ${activeId} is not among the keys`);

  return {
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', active, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(activeId, aad));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, activeId, iv.toString('base64url'), ct.toString('base64url'), tag.toString('base64url')].join('.');
    },

    open(sealed, aad) {
      const { kid, iv, ct, tag } = parse(sealed);
      const key = byId.get(kid);
      if (!key) throw new SecretBoxError('unknown_key', `no key with id ${kid}`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(additionalData(kid, aad));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
      } catch {
        // Tampered data, a wrong aad and a wrong key look alike on purpose: GCM only says "no".
        throw new SecretBoxError('decrypt_failed', 'sealed secret failed authentication');
      }
    },

    needsRewrap(sealed) {
      return parse(sealed).kid !== activeId;
    },
  };
}
