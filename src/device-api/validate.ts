import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import type { PushSubscriptionJson } from '../push/types.js';
import { deviceNameSchema } from '../devices/validate.js';

export { parseBody } from '../devices/validate.js';

/**
 * The shapes the device API accepts (docs/device-api.md). Unknown members are dropped, so a JWK
 * that carries a private `d` never reaches storage.
 */

/** Unpadded base64url of exactly `bytes` bytes. */
const b64url = (bytes: number) =>
  z.string().length(Math.ceil((bytes * 4) / 3)).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');

/** True when x and y are a point on P-256 (node:crypto refuses anything else). */
function onCurve(x: string, y: string): boolean {
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

export const publicJwkSchema = z
  .object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: b64url(32), y: b64url(32) })
  .refine((k) => onCurve(k.x, k.y), 'publicJwk is not a P-256 public key');

/** RFC 8291: the UA key is an uncompressed P-256 point (0x04 || x || y), the auth secret 16 bytes. */
const p256dh = b64url(65).refine((s) => {
  const raw = Buffer.from(s, 'base64url');
  return raw[0] === 4 && onCurve(raw.subarray(1, 33).toString('base64url'), raw.subarray(33).toString('base64url'));
}, 'p256dh is not an uncompressed P-256 point');

/**
 * web-push sends over HTTPS only, and credentials in the URL would be sent to the push service.
 * A browser serialises the endpoint as ASCII (PushSubscription.toJSON): anything else (a NUL, a
 * lone surrogate) is refused here, before it could reach storage or cost the enrollment code.
 */
function isPushUrl(s: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(s)) return false;
  try {
    const url = new URL(s);
    return url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

export const pushSchema = z.object({
  endpoint: z.string().max(2048).refine(isPushUrl, 'endpoint must be an https URL'),
  expirationTime: z.number().int().nonnegative().nullable().optional(),
  keys: z.object({ p256dh, auth: b64url(16) }),
});

const b64urlUpTo = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');

/** A platform authenticator's public key, registered at enrollment when the policy asks for WebAuthn. */
export const webauthnCredentialSchema = z.object({
  credentialId: b64urlUpTo(1024),
  publicKeySpki: b64urlUpTo(2048).refine((s) => {
    try {
      createPublicKey({ key: Buffer.from(s, 'base64url'), format: 'der', type: 'spki' });
      return true;
    } catch {
      return false;
    }
  }, 'must be a DER SubjectPublicKeyInfo'),
  alg: z.union([z.literal(-7), z.literal(-257)]),
});

export const enrollSchema = z.object({
  code: z.string().min(1).max(64),
  name: deviceNameSchema,
  publicJwk: publicJwkSchema,
  push: pushSchema.nullable(),
  webauthn: webauthnCredentialSchema.optional(),
});

/** The assertion that accompanies an approval under the WebAuthn unlock policy. */
export const webauthnAssertionSchema = z.object({
  credentialId: b64urlUpTo(1024),
  clientDataJSON: b64urlUpTo(4096),
  authenticatorData: b64urlUpTo(4096),
  signature: b64urlUpTo(1024),
});

export const pushUpdateSchema = z.object({ push: pushSchema.nullable() });

/** Compact JWS, bounded before any parsing. */
export const responseBodySchema = z.object({
  response: z.string().min(1).max(8192).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'must be a compact JWS'),
  webauthn: webauthnAssertionSchema.optional(),
});

/** The stored form of a subscription: only the members we know. */
export function toSubscription(push: z.infer<typeof pushSchema>): PushSubscriptionJson {
  return {
    endpoint: push.endpoint,
    ...(push.expirationTime === undefined ? {} : { expirationTime: push.expirationTime }),
    keys: { p256dh: push.keys.p256dh, auth: push.keys.auth },
  };
}
