import { describe, expect, it } from '@jest/globals';
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { CompactSign, generateKeyPair } from 'jose';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { b64url, claimsFor, codeOf, ISSUER, makeChallenge, NOW, phone, verify } from './fixtures.js';

/**
 * Threat: someone without the enrolled device key makes an answer the IdP accepts.
 * Every forged answer carries a correct TOTP, nonce and number, so only the signature check stands
 * between it and an approval.
 */

const hmacJws = (header: object, claims: object, secret: Buffer | string): string => {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};

describe('response forgery', () => {
  it('baseline: the honest answer is approved', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge)), alice, challenge);
    expect(verdict).toMatchObject({ ok: true, outcome: 'approved', reason: null, decision: 'approve' });
  });

  it('alg "none" is refused as unsupported_alg', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const header = { alg: 'none', kid: alice.device.id, typ: 'pushotp-response+jwt' };
    const jws = `${b64url(header)}.${b64url(claimsFor(alice.auth, challenge))}.`;
    expect(await verify(jws, alice, challenge)).toMatchObject({ ok: false, code: 'unsupported_alg', status: 400 });
  });

  it('HS256 keyed with the public key (PEM, JWK JSON, raw x) is refused as unsupported_alg', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const header = { alg: 'HS256', kid: alice.device.id, typ: 'pushotp-response+jwt' };
    const claims = claimsFor(alice.auth, challenge);
    const pem = createPublicKey({ key: alice.device.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [pem, JSON.stringify(alice.device.publicJwk), Buffer.from(alice.device.publicJwk.x!, 'base64url')]) {
      expect(codeOf(await verify(hmacJws(header, claims, secret), alice, challenge))).toBe('unsupported_alg');
    }
  });

  it('ES384 and RS256, even when well signed, are refused as unsupported_alg', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const payload = new TextEncoder().encode(JSON.stringify(claimsFor(alice.auth, challenge)));
    const es384 = await generateKeyPair('ES384');
    const rs256 = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jws384 = await new CompactSign(payload).setProtectedHeader({ alg: 'ES384', kid: alice.device.id, typ: 'pushotp-response+jwt' }).sign(es384.privateKey);
    const jws256 = await new CompactSign(payload).setProtectedHeader({ alg: 'RS256', kid: alice.device.id, typ: 'pushotp-response+jwt' }).sign(rs256.privateKey);
    expect(codeOf(await verify(jws384, alice, challenge))).toBe('unsupported_alg');
    expect(codeOf(await verify(jws256, alice, challenge))).toBe('unsupported_alg');
  });

  it("another device's key signing under this device's kid gives invalid_signature", async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const mallory = await SimulatedAuthenticator.create({
      baseUrl: ISSUER, issuer: ISSUER, deviceId: alice.device.id, totpSecret: alice.auth.totpSecret, now: () => NOW,
    });
    const jws = await mallory.signResponse(claimsFor(alice.auth, challenge));
    expect(await verify(jws, alice, challenge)).toMatchObject({ ok: false, code: 'invalid_signature', status: 400 });
  });

  it('a bit-flipped signature gives invalid_signature', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const [h, p, s] = (await alice.auth.signResponse(claimsFor(alice.auth, challenge))).split('.') as [string, string, string];
    for (const index of [0, 31, 63]) {
      const sig = Buffer.from(s, 'base64url');
      sig[index] = sig[index]! ^ 0x80;
      expect(codeOf(await verify(`${h}.${p}.${sig.toString('base64url')}`, alice, challenge))).toBe('invalid_signature');
    }
  });

  it('the signature must be R || S in 64 bytes: the same signature DER-encoded, cut or padded gives invalid_signature', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const [h, p, s] = (await alice.auth.signResponse(claimsFor(alice.auth, challenge))).split('.') as [string, string, string];
    const rs = Buffer.from(s, 'base64url');
    // ASN.1 DER (RFC 3279 2.2.3), the form node:crypto and OpenSSL use by default.
    const int = (b: Buffer) => { const t = b.subarray(b.findIndex((x) => x !== 0)); return t[0]! & 0x80 ? Buffer.concat([Buffer.of(0), t]) : t; };
    const [r, sv] = [int(rs.subarray(0, 32)), int(rs.subarray(32))];
    const der = Buffer.concat([Buffer.of(0x30, r.length + sv.length + 4, 0x02, r.length), r, Buffer.of(0x02, sv.length), sv]);
    for (const sig of [der, rs.subarray(0, 63), Buffer.concat([rs, Buffer.of(0)]), Buffer.concat([Buffer.of(0), rs]), Buffer.alloc(0)]) {
      expect(codeOf(await verify(`${h}.${p}.${sig.toString('base64url')}`, alice, challenge))).toBe('invalid_signature');
    }
    // The untouched one, after all of those: still approved.
    expect(await verify(`${h}.${p}.${s}`, alice, challenge)).toMatchObject({ ok: true, outcome: 'approved' });
  });

  it('a signed deny whose payload is edited into an approve gives invalid_signature', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const [h, , s] = (await alice.auth.signResponse(claimsFor(alice.auth, challenge, { decision: 'deny' }))).split('.');
    const edited = `${h}.${b64url(claimsFor(alice.auth, challenge))}.${s}`;
    expect(codeOf(await verify(edited, alice, challenge))).toBe('invalid_signature');
  });

  it('a device-auth token (section 2) is not taken for an answer', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const jws = await alice.auth.signJws(claimsFor(alice.auth, challenge), { typ: 'device-auth+jwt' });
    expect(codeOf(await verify(jws, alice, challenge))).toBe('invalid_request');
  });

  it('an unknown or revoked device is refused before its key is used', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge));
    expect(await verify(jws, alice, challenge, { device: null })).toMatchObject({ ok: false, code: 'unknown_device' });
    expect(codeOf(await verify(jws, alice, challenge, { device: { ...alice.device, id: 'dev_other' } }))).toBe('unknown_device');
    expect(codeOf(await verify(jws, alice, challenge, { device: { ...alice.device, status: 'revoked' } }))).toBe('device_revoked');
  });

  it('malformed input is invalid_request', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const good = await alice.auth.signResponse(claimsFor(alice.auth, challenge));
    const [h, p, s] = good.split('.');
    const noKid = `${b64url({ alg: 'ES256', typ: 'pushotp-response+jwt' })}.${p}.${s}`;
    const withCrit = `${b64url({ alg: 'ES256', kid: alice.device.id, crit: ['b64'], b64: false })}.${p}.${s}`;
    for (const jws of ['', 'a.b', `${h}.${p}`, `${h}.${p}.${s}.x`, `${h}..${s}`, `e30.${p}.${s}`, noKid, withCrit, 'x'.repeat(9000), `${good} `]) {
      expect(codeOf(await verify(jws, alice, challenge))).toBe('invalid_request');
    }
  });

  it('a signed payload with a missing or mistyped claim is invalid_request', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const honest = claimsFor(alice.auth, challenge);
    const bad: object[] = [
      { ...honest, cid: 7 }, { ...honest, nonce: undefined }, { ...honest, decision: 'allow' }, { ...honest, otp: 123456 },
      { ...honest, otp: '12345' }, { ...honest, iat: String(honest.iat) }, { ...honest, iat: honest.iat + 0.5 }, { ...honest, number: '-42' },
      { ...honest, number: 5.5 }, { ...honest, number: '4.2' }, { ...honest, otp: Number(honest.otp) },
    ];
    for (const claims of bad) {
      expect(codeOf(await verify(await alice.auth.signResponse(claims as never), alice, challenge))).toBe('invalid_request');
    }
    const notObject = await alice.auth.signJws(['an', 'array'] as never, { typ: 'pushotp-response+jwt' });
    expect(codeOf(await verify(notObject, alice, challenge))).toBe('invalid_request');
  });
});
