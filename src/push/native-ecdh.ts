import { createECDH } from 'node:crypto';
import path from 'node:path';
import { projectRoot } from '../http/paths.js';
import { addonFunction, loadProblem } from '../native/addon.js';

/**
 * A Web Push message's ECDH in one native call (native/webpush-ecdh, built by `npm run build` into
 * dist/native/): a fresh P-256 key pair and its shared secret with the user agent's key. It costs
 * about half of node:crypto's generateKeys + computeSecret, which check the whole key pair again on
 * every call (native/webpush-ecdh/ecdh.c says what and why that is not needed here).
 */
export interface NativeEcdh {
  /**
   * The new public key (uncompressed, 65 bytes) followed by the shared secret (32 bytes). Throws
   * when `peer` is not an uncompressed point on P-256. `privateKey` (32 bytes) replaces the fresh
   * key, for known-answer tests only.
   */
  derive(peer: Buffer, privateKey?: Buffer): Buffer;
}

/** Where `npm run build` puts it (scripts/build-native.mjs). */
export const NATIVE_ECDH_PATH = path.join('dist', 'native', 'webpush_ecdh.node');

let loaded: { ecdh: NativeEcdh | null; why: string } | undefined;

/**
 * The native ECDH when it was built and loads in this Node, else null (then the sender uses
 * node:crypto: the same messages, more CPU). Loaded once per process; `nativeEcdhStatus` says why
 * it is not in use.
 */
export function nativeEcdh(): NativeEcdh | null {
  loaded ??= loadNativeEcdhFrom(path.join(projectRoot(), NATIVE_ECDH_PATH));
  return loaded.ecdh;
}

/** Which ECDH Web Push uses in this process, for the start-up log and the benchmark. */
export function nativeEcdhStatus(): string {
  nativeEcdh();
  return loaded!.why;
}

/** The native ECDH in `file`, checked against node:crypto, or null and why not. */
export function loadNativeEcdhFrom(file: string): { ecdh: NativeEcdh | null; why: string } {
  const found = addonFunction<NativeEcdh['derive']>(file, NATIVE_ECDH_PATH, 'derive');
  if (!found.fn) return { ecdh: null, why: `node:crypto (${found.problem})` };
  const ecdh: NativeEcdh = { derive: found.fn };
  try {
    if (!agreesWithNodeCrypto(ecdh)) return { ecdh: null, why: `node:crypto (${NATIVE_ECDH_PATH} disagreed with node:crypto at its self-check)` };
  } catch (err) {
    return { ecdh: null, why: `node:crypto (${loadProblem(NATIVE_ECDH_PATH, err)})` };
  }
  return { ecdh, why: `native (${NATIVE_ECDH_PATH})` };
}

/** Once, at load: the native key pair and secret are node:crypto's for the same keys (a broken build is not used). */
function agreesWithNodeCrypto(ecdh: NativeEcdh): boolean {
  const ua = createECDH('prime256v1');
  const uaPublic = ua.generateKeys();
  const sender = createECDH('prime256v1');
  sender.generateKeys();
  // getPrivateKey drops leading zero bytes (one key in 256): the native call takes exactly 32.
  const both = ecdh.derive(uaPublic, padded(sender.getPrivateKey()));
  const fresh = ecdh.derive(uaPublic);
  return both.length === 97 && both.subarray(0, 65).equals(sender.getPublicKey()) && both.subarray(65).equals(sender.computeSecret(uaPublic))
    && fresh.length === 97 && fresh.subarray(65).equals(ua.computeSecret(fresh.subarray(0, 65)));
}

/** A private key as 32 bytes, leading zeros kept. */
export const padded = (key: Buffer): Buffer => (key.length >= 32 ? key : Buffer.concat([Buffer.alloc(32 - key.length), key]));
