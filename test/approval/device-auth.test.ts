import { describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { readKid, verifyDeviceAuth } from '../../src/approval/verify-device-auth.js';
import type { DeviceAuthVerdict } from '../../src/approval/types.js';
import type { Device } from '../../src/devices/types.js';
import { AUDIENCE, b64url, NOW, NOW_S, phone, type Phone } from './fixtures.js';

/**
 * Threat: a device-authenticated request (list challenges, fetch a nonce, change the push
 * subscription, unregister) made without the device key, or a captured token reused for another
 * endpoint, method, audience or time (docs/device-api.md section 2, after RFC 9449 DPoP).
 */
const PATH = '/api/device/challenges';

function honest(p: Phone, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: p.device.id, aud: AUDIENCE, htm: 'GET', htu: PATH, iat: NOW_S, exp: NOW_S + 60, jti: 'jti-0123456789abcdef', ...overrides };
}

async function check(jws: string, p: Phone, opts: { device?: Device | null; method?: string; path?: string; now?: number } = {}): Promise<DeviceAuthVerdict> {
  return verifyDeviceAuth({
    jws, device: opts.device === undefined ? p.device : opts.device, method: opts.method ?? 'GET', path: opts.path ?? PATH,
    audience: AUDIENCE, now: opts.now ?? NOW,
  });
}

const codeOf = (v: DeviceAuthVerdict): string => (v.ok ? 'ok' : v.code);
const sign = (p: Phone, claims: object, typ: string | undefined = 'device-auth+jwt'): Promise<string> => p.auth.signJws(claims, { typ });

describe('device-authenticated requests', () => {
  it("accepts the simulated authenticator's own header and returns jti and exp for the replay check", async () => {
    const alice = await phone();
    const header = await alice.auth.authHeader('GET', PATH);
    expect(header.startsWith('Device ')).toBe(true);
    const verdict = await check(header.slice('Device '.length), alice);
    expect(verdict).toMatchObject({ ok: true, deviceId: alice.device.id, exp: NOW_S + 60 });
    expect(verdict.ok && verdict.jti.length).toBeGreaterThanOrEqual(16);
  });

  it('refuses a token for another audience, method or path', async () => {
    const alice = await phone();
    expect(codeOf(await check(await sign(alice, honest(alice, { aud: 'https://evil.example/api/device' })), alice))).toBe('invalid_token');
    // An array is read as RFC 7519 4.1.3 says, but it must hold this audience, and only strings.
    for (const aud of [[], ['https://evil.example/api/device'], [AUDIENCE, 7], [AUDIENCE, null], [`${AUDIENCE}/`], 7, null, { aud: AUDIENCE }]) {
      expect(await check(await sign(alice, honest(alice, { aud })), alice)).toMatchObject({ ok: false, code: 'invalid_token', description: 'wrong aud' });
    }
    expect(codeOf(await check(await sign(alice, honest(alice)), alice, { method: 'DELETE' }))).toBe('invalid_token');
    expect(codeOf(await check(await sign(alice, honest(alice)), alice, { path: '/api/device' }))).toBe('invalid_token');
    expect(codeOf(await check(await sign(alice, honest(alice, { htu: `https://idp.example.test${PATH}` })), alice))).toBe('invalid_token');
  });

  it('accepts aud as an array of strings that holds the audience (RFC 7519 4.1.3)', async () => {
    const alice = await phone();
    for (const aud of [[AUDIENCE], ['https://other.example/api/device', AUDIENCE]]) {
      expect(codeOf(await check(await sign(alice, honest(alice, { aud })), alice))).toBe('ok');
    }
  });

  it('compares htm case-insensitively on the request side and htu without the query', async () => {
    const alice = await phone();
    const jws = await sign(alice, honest(alice));
    expect(codeOf(await check(jws, alice, { method: 'get', path: `${PATH}?since=1` }))).toBe('ok');
  });

  it('refuses iat more than 60 s off, either way', async () => {
    const alice = await phone();
    expect(codeOf(await check(await sign(alice, honest(alice, { iat: NOW_S - 61, exp: NOW_S + 30 })), alice))).toBe('invalid_token');
    expect(codeOf(await check(await sign(alice, honest(alice, { iat: NOW_S + 61, exp: NOW_S + 90 })), alice))).toBe('invalid_token');
    expect(codeOf(await check(await sign(alice, honest(alice, { iat: NOW_S - 60, exp: NOW_S + 30 })), alice))).toBe('ok');
  });

  it('refuses exp more than 120 s after iat, and an expired token', async () => {
    const alice = await phone();
    expect(codeOf(await check(await sign(alice, honest(alice, { exp: NOW_S + 121 })), alice))).toBe('invalid_token');
    expect(codeOf(await check(await sign(alice, honest(alice, { exp: NOW_S + 120 })), alice))).toBe('ok');
    const jws = await sign(alice, honest(alice, { exp: NOW_S + 10 }));
    expect(codeOf(await check(jws, alice, { now: NOW + 10_000 }))).toBe('invalid_token');
    expect(codeOf(await check(jws, alice, { now: NOW + 9_000 }))).toBe('ok');
  });

  it('refuses missing or non-integer times, a short or missing jti, and iss other than the device', async () => {
    const alice = await phone();
    for (const overrides of [{ iat: undefined }, { exp: undefined }, { iat: `${NOW_S}` }, { exp: NOW_S + 0.5 },
      { jti: 'short-jti-15chr' }, { jti: undefined }, { jti: 1234567890123456 }, { iss: 'dev_other' }, { iss: undefined }]) {
      expect(codeOf(await check(await sign(alice, honest(alice, overrides)), alice))).toBe('invalid_token');
    }
  });

  it('refuses alg none and HS256 keyed with the public key as unsupported_alg (401)', async () => {
    const alice = await phone();
    const claims = b64url(honest(alice));
    const none = `${b64url({ alg: 'none', kid: alice.device.id, typ: 'device-auth+jwt' })}.${claims}.`;
    const hsInput = `${b64url({ alg: 'HS256', kid: alice.device.id, typ: 'device-auth+jwt' })}.${claims}`;
    const hs = `${hsInput}.${createHmac('sha256', JSON.stringify(alice.device.publicJwk)).update(hsInput).digest('base64url')}`;
    expect(await check(none, alice)).toMatchObject({ ok: false, code: 'unsupported_alg', status: 401 });
    expect(codeOf(await check(hs, alice))).toBe('unsupported_alg');
  });

  it('refuses a wrong or missing typ (an answer JWS is not a request token)', async () => {
    const alice = await phone();
    expect(codeOf(await check(await sign(alice, honest(alice), 'pushotp-response+jwt'), alice))).toBe('invalid_token');
    expect(codeOf(await check(await sign(alice, honest(alice), 'JWT'), alice))).toBe('invalid_token');
    expect(codeOf(await check(await alice.auth.signJws(honest(alice), { typ: undefined }), alice))).toBe('invalid_token');
  });

  it("refuses another key's signature, an unknown device and a revoked one", async () => {
    const alice = await phone();
    const mallory = await phone('acct_mallory');
    const forged = await mallory.auth.signJws(honest(alice), { typ: 'device-auth+jwt', kid: alice.device.id });
    expect(await check(forged, alice)).toMatchObject({ ok: false, code: 'invalid_token', status: 401 });
    const jws = await sign(alice, honest(alice));
    expect(codeOf(await check(jws, alice, { device: null }))).toBe('unknown_device');
    expect(codeOf(await check(jws, alice, { device: mallory.device }))).toBe('unknown_device');
    expect(codeOf(await check(jws, alice, { device: { ...alice.device, status: 'revoked' } }))).toBe('device_revoked');
  });

  it('refuses malformed tokens as invalid_token', async () => {
    const alice = await phone();
    for (const jws of ['', 'Device abc', 'a.b', 'a.b.c.d', `${b64url({ alg: 'ES256' })}.${b64url(honest(alice))}.AAAA`]) {
      expect(codeOf(await check(jws, alice))).toBe('invalid_token');
    }
  });
});

describe('readKid', () => {
  it('reads the kid without verifying, and never throws', async () => {
    const alice = await phone();
    expect(readKid(await sign(alice, honest(alice)))).toBe(alice.device.id);
    for (const junk of ['', 'x', 'a.b.c', `${b64url('[1]')}.e30.`, `${b64url({ alg: 'ES256', kid: 7 })}.e30.`, null, 42]) {
      expect(readKid(junk as string)).toBe(null);
    }
  });
});
