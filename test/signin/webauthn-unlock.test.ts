import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { webauthnChallengeFor } from '../../src/approval/verify-webauthn.js';
import { SimulatedAuthenticator, type EnrollResponse } from '../support/authenticator.js';
import { freePort } from '../support/idp.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * DEVICE_UNLOCK=webauthn: a phone in someone else's hand cannot approve. The app registers a
 * user-verifying platform authenticator at enrollment, every approval carries an assertion bound to
 * that push, and the relying app's tokens then say `user` (RFC 8176).
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
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = createHash('sha256').update(String(Math.random())).digest('base64url');
    return {
      body: { credentialId: id, publicKeySpki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), alg: -7 },
      assert(cid: string, nonce: string, flags = 0x05) {
        const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: webauthnChallengeFor(cid, nonce), origin }));
        const authData = Buffer.concat([createHash('sha256').update('localhost').digest(), Buffer.from([flags, 0, 0, 0, 7])]);
        const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), privateKey);
        return { credentialId: id, clientDataJSON: clientDataJSON.toString('base64url'), authenticatorData: authData.toString('base64url'), signature: signature.toString('base64url') };
      },
    };
  };

  async function enroll(webauthn: Record<string, unknown> | null) {
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
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
    const { phone, body } = await enroll(cred.body);
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
