/**
 * Types for the parts of http_ece 1.2 (the RFC 8188 reference implementation) that this project
 * uses. The package ships none.
 */
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';

  export interface EceParams {
    /** 'aes128gcm' (RFC 8188, the one Web Push uses) or the legacy 'aesgcm'. */
    version?: 'aes128gcm' | 'aesgcm';
    /** Record size; 4096 by default. */
    rs?: number;
    /** Base64url string or bytes. */
    salt?: string | Buffer;
    /** An explicit content-encryption key instead of ECDH. */
    key?: string | Buffer;
    keyid?: string | Buffer;
    /** The local ECDH key pair: the sender's when encrypting, the receiver's when decrypting. */
    privateKey?: ECDH;
    /** The other side's public key (needed to encrypt; read from the aes128gcm header to decrypt). */
    dh?: string | Buffer;
    /** RFC 8291 auth secret, base64url string or bytes. */
    authSecret?: string | Buffer;
    pad?: number;
  }

  export function encrypt(buffer: Buffer, params: EceParams): Buffer;
  export function decrypt(buffer: Buffer, params: EceParams): Buffer;

  const ece: { encrypt: typeof encrypt; decrypt: typeof decrypt };
  export default ece;
}
