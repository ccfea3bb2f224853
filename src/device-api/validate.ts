import { createPublicKey } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import type { PushSubscriptionJson } from '../push/types.js';
import { deviceNameSchema } from '../devices/validate.js';

export { parseBody } from '../devices/validate.js';

/** Challenge ids are base64url of 16+ bytes; anything else is not looked up. */
export const CHALLENGE_ID = /^[A-Za-z0-9_-]{16,128}$/;

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
  // Milliseconds since the epoch (Push API); one already past, or given in seconds, names a
  // subscription that is gone: refused here rather than marked dead at the first sign-in (red-team review).
  expirationTime: z.number().int().nonnegative().nullable().optional()
    .refine((v) => v === null || v === undefined || v > Date.now(), 'expirationTime has passed (it is in milliseconds since the epoch)'),
  keys: z.object({ p256dh, auth: b64url(16) }),
});

const b64urlUpTo = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');

const b64urlOpt = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
/**
 * AuthenticatorTransport values (W3C WebAuthn Level 3, 5.8.4: "usb", "nfc", "ble", "smart-card",
 * "hybrid", "internal"; older browsers' "cable"): lower-case ASCII words, so a value a later level
 * adds still passes. They are stored with the credential in a jsonb column, which refuses NUL and
 * lone surrogates (red-team: "internal\u0000" or "\ud800" there was a 500 after the code was checked).
 */
const transports = z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be an authenticator transport')).max(8).exactOptional();
const attachment = z.enum(['platform', 'cross-platform']).exactOptional();

/** Pure: the results serialise to at most 1 KB. Never throws (a cycle or a nesting too deep for JSON.stringify counts as too large). */
function smallJson(o: unknown): boolean {
  try {
    return JSON.stringify(o).length <= 1024;
  } catch {
    return false;
  }
}
/** The library checks what these mean; here only their shape and size, before anything is spent. */
const extensionResults = z.record(z.string(), z.unknown()).refine(smallJson, 'too large');

/** RegistrationResponseJSON (W3C WebAuthn Level 3, 5.1.8), from the ceremony of section 1a. */
export const registrationResponseSchema = z.object({
  id: b64urlUpTo(1024),
  rawId: b64urlUpTo(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64urlUpTo(4096),
    attestationObject: b64urlUpTo(8192),
    authenticatorData: b64urlOpt(4096).exactOptional(),
    transports,
    publicKeyAlgorithm: z.number().int().exactOptional(),
    publicKey: b64urlOpt(2048).exactOptional(),
  }),
  authenticatorAttachment: attachment,
  clientExtensionResults: extensionResults,
});

export const enrollSchema = z.object({
  code: z.string().min(1).max(64),
  name: deviceNameSchema,
  publicJwk: publicJwkSchema,
  // docs/device-api.md section 1: null or left out, the device starts in poll mode.
  push: pushSchema.nullable().optional(),
  webauthn: registrationResponseSchema.optional(),
});

export const registrationOptionsRequestSchema = z.object({ code: z.string().min(1).max(64) });

/** AuthenticationResponseJSON (W3C WebAuthn Level 3, 5.1.8): what an approval carries under the WebAuthn policy. */
const assertionJsonSchema = z.object({
  id: b64urlUpTo(1024),
  rawId: b64urlUpTo(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64urlUpTo(4096),
    authenticatorData: b64urlUpTo(4096),
    signature: b64urlUpTo(1024),
    userHandle: b64urlOpt(128).exactOptional(),
  }),
  authenticatorAttachment: attachment,
  clientExtensionResults: extensionResults,
});

/** The flat form apps sent before 2026-12 (docs/device-api.md, section 4): still read, as the JSON form. */
const legacyAssertionSchema = z.object({
  credentialId: b64urlUpTo(1024),
  clientDataJSON: b64urlUpTo(4096),
  authenticatorData: b64urlUpTo(4096),
  signature: b64urlUpTo(1024),
}).transform((a) => ({
  id: a.credentialId, rawId: a.credentialId, type: 'public-key' as const,
  response: { clientDataJSON: a.clientDataJSON, authenticatorData: a.authenticatorData, signature: a.signature },
  clientExtensionResults: {},
}));

export const webauthnAssertionSchema = z.union([assertionJsonSchema, legacyAssertionSchema]);

export const pushUpdateSchema = z.object({ push: pushSchema.nullable() });

/** Compact JWS, bounded before any parsing. */
export const responseBodySchema = z.object({
  response: z.string().min(1).max(8192).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'must be a compact JWS: three base64url parts joined by dots (RFC 7515 7.1: A-Z a-z 0-9 - _ only, no = padding)'),
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

// The shapes above are the library's own JSON types (checked here, at compile time).
const _shapes: [z.infer<typeof registrationResponseSchema> extends RegistrationResponseJSON ? true : false,
  z.infer<typeof webauthnAssertionSchema> extends AuthenticationResponseJSON ? true : false] = [true, true];
void _shapes;
