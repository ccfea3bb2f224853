import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { webauthnChallengeFor } from '../../src/approval/verify-webauthn.js';
import type { RegistrationOptionsResponse } from '../../src/device-api/contract.js';
import { SimulatedAuthenticator, type EnrollResponse } from '../support/authenticator.js';
import { SoftwareWebAuthn } from '../support/webauthn-authenticator.js';
import { freePort } from '../support/idp.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * DEVICE_UNLOCK=webauthn: a phone in someone else's hand cannot approve. The app registers a
 * user-verifying platform authenticator at enrollment (a registration ceremony whose challenge is
 * bound to the enrollment code), every approval carries an assertion bound to that push, and the
 * relying app's tokens then say `user` (RFC 8176).
 */
describe('WebAuthn unlock policy', () => {
  let w: PushWorld;
  let origin: string;
  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    w = await startWorld({ idp: { port, env: { DEVICE_UNLOCK: 'webauthn', ISSUER: origin } } });
  });
  afterAll(() => w.close());

  const credential = () => {
    const sw = new SoftwareWebAuthn(origin);
    return {
      sw,
      assert: (cid: string, nonce: string, flags = 0x05) => sw.assert(webauthnChallengeFor(cid, nonce), { flags }),
    };
  };

  async function registrationFor(code: string, sw: SoftwareWebAuthn) {
    const res = await fetch(`${w.t.url}/api/device/enroll/webauthn-options`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
    });
    expect(res.status).toBe(200);
    const { publicKey } = (await res.json()) as RegistrationOptionsResponse;
    expect(publicKey.authenticatorSelection).toMatchObject({ authenticatorAttachment: 'platform', userVerification: 'required' });
    return sw.create(publicKey);
  }

  async function enroll(sw: SoftwareWebAuthn | null) {
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    const webauthn = sw ? await registrationFor(offer.code, sw) : null;
    expect(new URL(offer.url).searchParams.get('unlock')).toBe('webauthn');
    const { keyPair, publicJwk } = await SimulatedAuthenticator.newKey();
    const res = await fetch(`${w.t.url}/api/device/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: offer.code, name: 'Phone with Face ID', publicJwk, push: null, ...(webauthn ? { webauthn } : {}) }),
    });
    const body = await res.json() as EnrollResponse & { error?: string };
    if (res.status !== 201) return { status: res.status, body, phone: null };
    const phone = await SimulatedAuthenticator.create({ baseUrl: w.t.url, issuer: w.t.url, deviceId: body.deviceId, totpSecret: body.totp.secret, keyPair });
    return { status: 201, body, phone };
  }

  it('refuses an enrollment without a platform authenticator', async () => {
    const r = await enroll(null);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('webauthn_required');
  });

  it('approves only with a user-verified assertion for this push; the tokens then carry user', async () => {
    const cred = credential();
    const { phone, body } = await enroll(cred.sw);
    expect(body.policy.unlock).toBe('webauthn');
    const s = await signedInToWaitingPage(w);
    const wait = s.wait;
    const number = matchNumberOf(wait.body)!;
    const [pending] = await phone!.pending();
    const cid = pending!.id;

    const without = await phone!.respond(cid, 'approve', { number });
    expect(without).toMatchObject({ status: 400, body: { error: 'user_verification_required' } });
    const unverified = await phone!.respond(cid, 'approve', { number, extra: { webauthn: cred.assert(cid, pending!.nonce, 0x01) } });
    expect(unverified).toMatchObject({ status: 400, body: { error: 'user_verification_failed' } });
    const otherPush = await phone!.respond(cid, 'approve', { number, extra: { webauthn: cred.assert('another', pending!.nonce) } });
    expect(otherPush).toMatchObject({ status: 400, body: { error: 'user_verification_failed' } });

    const ok = await phone!.respond(cid, 'approve', { number, extra: { webauthn: cred.assert(cid, pending!.nonce) } });
    expect(ok).toMatchObject({ status: 200, body: { status: 'approved' } });
    const done = await s.browser.go(`/interaction/${s.uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, s.verifier, s.state)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'user', 'mfa']);
  });
});
