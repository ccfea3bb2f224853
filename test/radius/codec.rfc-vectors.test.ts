import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  encodeReply, expectedResponseAuthenticator, hidePassword, revealPassword, verifyMessageAuthenticator, verifyReplyMessageAuthenticator,
} from '../../src/radius/authenticators.js';
import { ATTR, CODE, decodePacket, encodePacket, EncodeError } from '../../src/radius/codec.js';

/**
 * The RADIUS codec against published vectors (RFC 2865 section 7.1) and against packets a real
 * client built (radclient 3.2.1 with Message-Authenticator, RFC 3579 3.2), then the strictness an
 * attacker probes: lengths that lie, attributes that overrun, garbage.
 */
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 2865 7.1: user "nemo", password "arctangent", shared secret "xyzzy5461".
const RFC_SECRET = Buffer.from('xyzzy5461');
const RFC_REQUEST = hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
  93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03`);
const RFC_ACCEPT = hex(`02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
  0e 06 c0 a8 01 03`);

// Sent by `radclient 3.2.1 ... auth 'Vector-Secret-For-Radclient-3.2.1-q8Zk'` with
// User-Name = "nemo", User-Password = "arctangent", NAS-IP-Address, NAS-Port, Message-Authenticator = 0x00.
const RADCLIENT_SECRET = Buffer.from('Vector-Secret-For-Radclient-3.2.1-q8Zk');
const RADCLIENT_REQUEST = hex(`01ea004a9bae432415ed7fc3ba489bdf1db66aa501066e656d6f0212c3e34fdba1c6ad9dbb6fb5dcf1d28708
  0406c0a80110050600000003501293fd5dfdc261c7ca3c4851cafe1f8632`);

describe('RADIUS codec: RFC 2865 7.1 vectors', () => {
  it('decodes the Access-Request and reveals "arctangent" (User-Password hiding, RFC 2865 5.2)', () => {
    const d = decodePacket(RFC_REQUEST);
    if (!d.ok) throw new Error(d.reason);
    expect(d.packet.code).toBe(CODE.accessRequest);
    expect(d.packet.identifier).toBe(0);
    expect(d.packet.attributes.map((a) => a.type)).toEqual([ATTR.userName, ATTR.userPassword, ATTR.nasIpAddress, 5]);
    expect(d.packet.attributes[0]!.value.toString()).toBe('nemo');
    const hidden = d.packet.attributes[1]!.value;
    expect(revealPassword(hidden, RFC_SECRET, d.packet.authenticator)?.toString()).toBe('arctangent');
    // And hiding gives the very octets of the RFC.
    expect(hidePassword(Buffer.from('arctangent'), RFC_SECRET, d.packet.authenticator)).toEqual(hidden);
  });

  it('re-encodes the RFC request byte for byte', () => {
    const d = decodePacket(RFC_REQUEST);
    if (!d.ok) throw new Error(d.reason);
    expect(encodePacket(d.packet)).toEqual(RFC_REQUEST);
  });

  it('computes the Access-Accept\'s Response Authenticator of the RFC', () => {
    const requestAuthenticator = RFC_REQUEST.subarray(4, 20);
    expect(expectedResponseAuthenticator(RFC_ACCEPT, requestAuthenticator, RFC_SECRET)).toEqual(RFC_ACCEPT.subarray(4, 20));
  });
});

describe('RADIUS codec: Message-Authenticator (RFC 3579 3.2, HMAC-MD5)', () => {
  it('verifies the one radclient computed, and no other secret or byte', () => {
    const d = decodePacket(RADCLIENT_REQUEST);
    if (!d.ok) throw new Error(d.reason);
    const ma = d.packet.attributes.find((a) => a.type === ATTR.messageAuthenticator)!;
    expect(verifyMessageAuthenticator(d.bytes, ma, RADCLIENT_SECRET)).toBe(true);
    expect(revealPassword(d.packet.attributes[1]!.value, RADCLIENT_SECRET, d.packet.authenticator)?.toString()).toBe('arctangent');
    expect(verifyMessageAuthenticator(d.bytes, ma, Buffer.from('Vector-Secret-For-Radclient-3.2.1-q8Zj'))).toBe(false);
    // Any single flipped bit anywhere (header, authenticator, attributes) breaks it.
    for (let i = 0; i < d.bytes.length; i++) {
      if (i >= ma.offset && i < ma.offset + 16) continue;
      const tampered = Buffer.from(d.bytes);
      tampered[i]! ^= 0x01;
      const t = decodePacket(tampered);
      if (!t.ok) continue; // a flipped length or attribute length is caught earlier
      const tma = t.packet.attributes.find((a) => a.type === ATTR.messageAuthenticator);
      if (tma) expect(verifyMessageAuthenticator(t.bytes, tma, RADCLIENT_SECRET)).toBe(false);
    }
  });

  it('puts Message-Authenticator first in every reply; it and the Response Authenticator verify as a NAS checks them', () => {
    const requestAuthenticator = randomBytes(16);
    const secret = randomBytes(32);
    for (const code of [CODE.accessAccept, CODE.accessReject, CODE.accessChallenge] as const) {
      const bytes = encodeReply({
        code, identifier: 77,
        attributes: [{ type: ATTR.replyMessage, value: Buffer.from('hello') }, { type: ATTR.state, value: Buffer.from('abc') }],
      }, requestAuthenticator, secret);
      const d = decodePacket(bytes);
      if (!d.ok) throw new Error(d.reason);
      expect(d.packet.code).toBe(code);
      expect(d.packet.identifier).toBe(77);
      expect(d.packet.attributes[0]!.type).toBe(ATTR.messageAuthenticator);
      expect(d.packet.attributes.filter((a) => a.type === ATTR.messageAuthenticator)).toHaveLength(1);
      expect(verifyReplyMessageAuthenticator(bytes, d.packet.attributes[0]!, requestAuthenticator, secret)).toBe(true);
      expect(expectedResponseAuthenticator(bytes, requestAuthenticator, secret)).toEqual(d.packet.authenticator);
      expect(verifyReplyMessageAuthenticator(bytes, d.packet.attributes[0]!, randomBytes(16), secret)).toBe(false);
    }
  });

  it('a caller\'s own Message-Authenticator is never placed anywhere but first', () => {
    const bytes = encodeReply({
      code: CODE.accessReject, identifier: 1,
      attributes: [{ type: ATTR.replyMessage, value: Buffer.from('x') }, { type: ATTR.messageAuthenticator, value: Buffer.alloc(16, 7) }],
    }, randomBytes(16), randomBytes(32));
    const d = decodePacket(bytes);
    if (!d.ok) throw new Error(d.reason);
    expect(d.packet.attributes.map((a) => a.type)).toEqual([ATTR.messageAuthenticator, ATTR.replyMessage]);
  });
});

describe('RADIUS codec: User-Password hiding beyond one block', () => {
  it('round-trips passwords of 0..128 octets with the NUL padding removed', () => {
    const secret = randomBytes(40);
    const ra = randomBytes(16);
    for (const n of [0, 1, 15, 16, 17, 31, 32, 33, 100, 128]) {
      const pw = Buffer.from('p'.repeat(n));
      const hidden = hidePassword(pw, secret, ra);
      expect(hidden.length).toBe(Math.max(16, Math.ceil(n / 16) * 16));
      expect(revealPassword(hidden, secret, ra)).toEqual(pw);
    }
    expect(() => hidePassword(Buffer.alloc(129, 1), secret, ra)).toThrow(RangeError);
  });

  it('refuses hidden values that cannot be a password (RFC 2865 5.2: 16..128 octets, multiple of 16)', () => {
    const secret = randomBytes(40);
    for (const n of [0, 1, 15, 17, 144]) expect(revealPassword(Buffer.alloc(n), secret, randomBytes(16))).toBeNull();
  });
});

describe('RADIUS codec: strict lengths', () => {
  const good = RFC_REQUEST;
  const withLength = (buf: Buffer, length: number) => {
    const b = Buffer.from(buf);
    b.writeUInt16BE(length, 2);
    return b;
  };

  it('refuses datagrams shorter than a header', () => {
    expect(decodePacket(good.subarray(0, 19))).toEqual({ ok: false, reason: 'too_short' });
    expect(decodePacket(Buffer.alloc(0))).toEqual({ ok: false, reason: 'too_short' });
  });

  it('refuses a Length below 20 or above 4096, and one beyond the datagram', () => {
    expect(decodePacket(withLength(good, 19))).toEqual({ ok: false, reason: 'bad_length' });
    expect(decodePacket(withLength(good, 4097))).toEqual({ ok: false, reason: 'bad_length' });
    expect(decodePacket(withLength(good, good.length + 1))).toEqual({ ok: false, reason: 'truncated' });
  });

  it('refuses an attribute of length 0 or 1, or one running past Length', () => {
    const zero = Buffer.from(good);
    zero[21] = 0;
    expect(decodePacket(zero)).toEqual({ ok: false, reason: 'bad_attribute_length' });
    const one = Buffer.from(good);
    one[21] = 1;
    expect(decodePacket(one)).toEqual({ ok: false, reason: 'bad_attribute_length' });
    const over = Buffer.from(good);
    over[good.length - 5] = 7; // the last attribute claims one octet more than there is
    expect(decodePacket(over)).toEqual({ ok: false, reason: 'attribute_overflow' });
    // A Length that cuts the last attribute in half.
    expect(decodePacket(withLength(good, good.length - 3))).toEqual({ ok: false, reason: 'attribute_overflow' });
    // A lone type octet at the end.
    expect(decodePacket(withLength(Buffer.concat([good, Buffer.from([1])]), good.length + 1))).toEqual({ ok: false, reason: 'attribute_overflow' });
  });

  it('ignores octets past Length as padding (RFC 2865 section 3)', () => {
    const d = decodePacket(Buffer.concat([good, Buffer.from('trailing junk')]));
    if (!d.ok) throw new Error(d.reason);
    expect(d.bytes).toEqual(good);
  });

  it('never throws on random datagrams', () => {
    for (let i = 0; i < 5000; i++) {
      const b = randomBytes(Math.floor(Math.random() * 80));
      if (b.length >= 4 && i % 2 === 0) b.writeUInt16BE(Math.min(b.length, 20 + Math.floor(Math.random() * 60)), 2);
      expect(() => decodePacket(b)).not.toThrow();
    }
  });

  it('will not encode what RFC 2865 cannot carry', () => {
    const authenticator = Buffer.alloc(16);
    expect(() => encodePacket({ code: 2, identifier: 1, authenticator, attributes: [{ type: 18, value: Buffer.alloc(254) }] })).toThrow(EncodeError);
    expect(() => encodePacket({ code: 2, identifier: 256, authenticator, attributes: [] })).toThrow(EncodeError);
    expect(() => encodePacket({ code: 2, identifier: 1, authenticator: Buffer.alloc(15), attributes: [] })).toThrow(EncodeError);
    const many = Array.from({ length: 17 }, () => ({ type: 18, value: Buffer.alloc(253) }));
    expect(() => encodePacket({ code: 2, identifier: 1, authenticator, attributes: many })).toThrow(EncodeError);
  });
});
