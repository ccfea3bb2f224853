import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ATTR, CODE, encodePacket, type Attribute, type DecodedAttribute, type Packet } from './codec.js';

/**
 * The shared-secret cryptography of RADIUS: User-Password hiding (RFC 2865 section 5.2), the
 * Response Authenticator (RFC 2865 section 3) and Message-Authenticator (RFC 3579 section 3.2,
 * HMAC-MD5). Pure functions over bytes.
 */

const md5 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 2865 5.2: at most 128 octets of password, hidden in 16-octet blocks. */
export const MAX_PASSWORD_LENGTH = 128;

/**
 * RFC 2865 5.2: c(1) = p(1) xor MD5(S + RA), c(i) = p(i) xor MD5(S + c(i-1)). Pads with NULs to
 * a multiple of 16 (an empty password is one block of NULs).
 */
export function hidePassword(password: Uint8Array, secret: Uint8Array, requestAuthenticator: Uint8Array): Buffer {
  if (password.length > MAX_PASSWORD_LENGTH) throw new RangeError(`a password is at most ${MAX_PASSWORD_LENGTH} octets`);
  const padded = Buffer.alloc(Math.max(16, Math.ceil(password.length / 16) * 16));
  padded.set(password);
  const out = Buffer.alloc(padded.length);
  let previous: Uint8Array = requestAuthenticator;
  for (let i = 0; i < padded.length; i += 16) {
    const b = md5(secret, previous);
    for (let j = 0; j < 16; j++) out[i + j] = padded[i + j]! ^ b[j]!;
    previous = out.subarray(i, i + 16);
  }
  return out;
}

/**
 * The reverse of hidePassword, with the NUL padding taken off the end. Null when the attribute
 * cannot be a hidden password (RFC 2865 5.2: 16 to 128 octets, a multiple of 16).
 */
export function revealPassword(hidden: Uint8Array, secret: Uint8Array, requestAuthenticator: Uint8Array): Buffer | null {
  if (hidden.length < 16 || hidden.length > MAX_PASSWORD_LENGTH || hidden.length % 16 !== 0) return null;
  const out = Buffer.alloc(hidden.length);
  let previous: Uint8Array = requestAuthenticator;
  for (let i = 0; i < hidden.length; i += 16) {
    const b = md5(secret, previous);
    for (let j = 0; j < 16; j++) out[i + j] = hidden[i + j]! ^ b[j]!;
    previous = hidden.subarray(i, i + 16);
  }
  let end = out.length;
  while (end > 0 && out[end - 1] === 0) end--;
  return out.subarray(0, end);
}

/** HMAC-MD5 of the packet with the Message-Authenticator's value as 16 zero octets (RFC 3579 3.2). */
function messageAuthenticatorOver(packetWithZeroedMa: Uint8Array, secret: Uint8Array): Buffer {
  return createHmac('md5', secret).update(packetWithZeroedMa).digest();
}

/**
 * Whether a request's Message-Authenticator is right. `bytes` are the packet's octets as received
 * (Length of them), `ma` the attribute as decoded. For an Access-Request the Authenticator field
 * is the Request Authenticator as sent, so the HMAC runs over the packet as it is, MA zeroed.
 * Compared in constant time.
 */
export function verifyMessageAuthenticator(bytes: Uint8Array, ma: DecodedAttribute, secret: Uint8Array): boolean {
  if (ma.type !== ATTR.messageAuthenticator || ma.value.length !== 16) return false;
  const copy = Buffer.from(bytes);
  copy.fill(0, ma.offset, ma.offset + 16);
  return timingSafeEqual(messageAuthenticatorOver(copy, secret), ma.value);
}

export type ReplyCode = typeof CODE.accessAccept | typeof CODE.accessReject | typeof CODE.accessChallenge;

/**
 * An Access-Accept, -Reject or -Challenge for one request, Message-Authenticator FIRST
 * (BlastRADIUS, CVE-2024-3596: a reply whose first attribute is an HMAC over the whole packet
 * leaves no room for the chosen-prefix MD5 collision the attack needs).
 *
 * Order of computation: with the Request Authenticator in the Authenticator field and MA zeroed,
 * MA = HMAC-MD5(secret, packet) (RFC 3579 3.2); then, over the packet with MA filled in, the
 * Response Authenticator = MD5(Code + Identifier + Length + RequestAuth + Attributes + Secret)
 * (RFC 2865 section 3) replaces the Request Authenticator.
 */
export function encodeReply(
  reply: { code: ReplyCode; identifier: number; attributes: readonly Attribute[] },
  requestAuthenticator: Uint8Array,
  secret: Uint8Array,
): Buffer {
  const attributes = reply.attributes.filter((a) => a.type !== ATTR.messageAuthenticator);
  const packet: Packet = {
    code: reply.code,
    identifier: reply.identifier,
    authenticator: Buffer.from(requestAuthenticator),
    attributes: [{ type: ATTR.messageAuthenticator, value: Buffer.alloc(16) }, ...attributes],
  };
  const bytes = encodePacket(packet);
  // The first attribute's value starts right after the header and its own two octets.
  const maOffset = 20 + 2;
  messageAuthenticatorOver(bytes, secret).copy(bytes, maOffset);
  md5(bytes, secret).copy(bytes, 4);
  return bytes;
}

/**
 * The Response Authenticator a reply must carry (RFC 2865 section 3), for checking a reply as a
 * NAS would: MD5 over the reply with the Request Authenticator in place of its own, then the secret.
 */
export function expectedResponseAuthenticator(replyBytes: Uint8Array, requestAuthenticator: Uint8Array, secret: Uint8Array): Buffer {
  const copy = Buffer.from(replyBytes);
  copy.set(requestAuthenticator, 4);
  return md5(copy, secret);
}

/**
 * Whether a reply's Message-Authenticator is right, as a NAS checks it (RFC 3579 3.2): the HMAC
 * runs with the Request Authenticator in the Authenticator field and MA zeroed.
 */
export function verifyReplyMessageAuthenticator(replyBytes: Uint8Array, ma: DecodedAttribute, requestAuthenticator: Uint8Array, secret: Uint8Array): boolean {
  if (ma.type !== ATTR.messageAuthenticator || ma.value.length !== 16) return false;
  const copy = Buffer.from(replyBytes);
  copy.set(requestAuthenticator, 4);
  copy.fill(0, ma.offset, ma.offset + 16);
  return timingSafeEqual(messageAuthenticatorOver(copy, secret), ma.value);
}
