import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { verifyDeviceAuth } from '../../src/approval/verify-device-auth.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { startTestIdp, type TestIdp } from '../support/idp.js';
import { AUDIENCE, b64url, claimsFor, makeChallenge, NOW, NOW_S, phone, verify } from './fixtures.js';

/**
 * An authenticator written by someone else from docs/device-api.md alone (the outside checker has
 * one) is told, when a request is refused, which part of it was wrong. An independent one written
 * here sent a fractional `iat`, a padded JWS, no `kid`: each was refused as it should be, but with
 * "a claim is missing or of the wrong type", "not a compact JWS with alg and kid" or "an
 * Authorization: Device <JWS> header is required" (the header was there), which named nothing.
 */
const padded = (jws: string) => jws.split('.').map((part) => part + '='.repeat((4 - (part.length % 4)) % 4)).join('.');

describe('a refused answer says which part is wrong', () => {
  const refusal = async (jws: string, p: Awaited<ReturnType<typeof phone>>, challenge = makeChallenge()) => {
    const verdict = await verify(jws, p, challenge);
    return verdict.ok ? 'accepted' : `${verdict.code}: ${verdict.description}`;
  };

  it('names the claim of the wrong type, and how it should be', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const answer = (overrides: Record<string, unknown>) => alice.auth.signResponse({ ...claimsFor(alice.auth, challenge), ...overrides });
    expect(await refusal(await answer({ iat: NOW_S + 0.25 }), alice, challenge)).toMatch(/^invalid_request: iat must be an integer, epoch seconds/);
    expect(await refusal(await answer({ otp: 123456 }), alice, challenge)).toMatch(/^invalid_request: otp must be a string of 6 \(or 8\) digits/);
    expect(await refusal(await answer({ decision: 'yes' }), alice, challenge)).toMatch(/^invalid_request: decision must be one of approve, deny, report/);
    expect(await refusal(await answer({ number: '4.2' }), alice, challenge)).toMatch(/^invalid_request: number must be an integer/);
    const { nonce: _n, ...noNonce } = claimsFor(alice.auth, challenge);
    expect(await refusal(await alice.auth.signResponse(noNonce), alice, challenge)).toMatch(/^invalid_request: the claim nonce is missing/);
  });

  it('says what is wrong with the JWS itself: padding, no kid, an extension', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const claims = claimsFor(alice.auth, challenge);
    const honest = await alice.auth.signResponse(claims);
    expect(await refusal(padded(honest), alice, challenge)).toMatch(/^invalid_request: the response is not a compact JWS we take: .*no = padding/);
    const noKid = `${b64url({ alg: 'ES256', typ: 'pushotp-response+jwt' })}.${b64url(claims)}.${honest.split('.')[2]}`;
    expect(await refusal(noKid, alice, challenge)).toMatch(/has no kid \(the device id\)/);
    const crit = `${b64url({ alg: 'ES256', kid: alice.device.id, typ: 'pushotp-response+jwt', crit: ['exp'] })}.${b64url(claims)}.${honest.split('.')[2]}`;
    expect(await refusal(crit, alice, challenge)).toMatch(/crit or b64: no JWS extension is understood/);
    // The honest answer itself still passes.
    expect(await refusal(honest, alice, challenge)).toBe('accepted');
  });

  it('a Device authorization says the same', async () => {
    const alice = await phone();
    const header = (await alice.auth.authHeader('GET', '/api/device/challenges')).slice('Device '.length);
    const check = async (jws: string) => {
      const v = await verifyDeviceAuth({ jws, device: alice.device, method: 'GET', path: '/api/device/challenges', audience: AUDIENCE, now: NOW });
      return v.ok ? 'accepted' : `${v.code}: ${v.description}`;
    };
    expect(await check(header)).toBe('accepted');
    expect(await check(padded(header))).toMatch(/^invalid_token: the Device authorization is not a compact JWS we take: .*no = padding/);
  });
});

describe('over HTTP, a padded Device authorization', () => {
  let t: TestIdp;
  let phoneApp: SimulatedAuthenticator;
  beforeAll(async () => {
    t = await startTestIdp();
    const account = await t.idp.accounts.create({ username: 'padder', passwordHash: 'x' });
    const offer = await t.idp.deviceService.issueEnrollment(account.id, 'test');
    phoneApp = await SimulatedAuthenticator.enroll(t.url, offer.code, { push: null, name: 'Phone' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is refused as a malformed token that names the padding, not as a missing header', async () => {
    const header = await phoneApp.authHeader('GET', '/api/device/challenges');
    const res = await fetch(`${t.url}/api/device/challenges`, { headers: { authorization: `Device ${padded(header.slice('Device '.length))}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Device');
    expect(await res.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/no = padding/) });
    // The answer's body says the same (review: its schema refused a padded JWS as "must be a compact JWS").
    const answer = padded(await phoneApp.signResponse({ cid: 'x', nonce: 'y', decision: 'deny', otp: '000000', iat: Math.floor(Date.now() / 1000) }));
    const body = await fetch(`${t.url}/api/device/challenges/ch_000000000000000000000000/response`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response: answer }) });
    expect(body.status).toBe(400);
    expect(await body.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/no = padding/) });
    // Another scheme, or none, is still told the header is required.
    for (const authorization of ['Bearer abc', '']) {
      const other = await fetch(`${t.url}/api/device/challenges`, { headers: authorization ? { authorization } : {} });
      expect(other.status).toBe(401);
      expect(await other.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/Authorization: Device <JWS> header is required/) });
    }
  });
});
