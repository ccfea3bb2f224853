import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { auditEvents, CALLBACK, enroll, startWorld } from './helpers.js';

/**
 * Guards the client policy for a user with no authenticator (`login.noDevice`): 'password-only'
 * lets the password through and says so honestly (amr ['pwd'], the password acr); 'refuse' stops
 * the sign-in with a page that says why, and no code reaches the relying app.
 */
describe("noDevice 'password-only'", () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ login: { noDevice: 'password-only' } }); });
  afterAll(() => w.close());

  it('signs in with the password alone, with amr pwd and the password acr', async () => {
    const { next, verifier, state } = await w.startSignIn();
    expect(next.url).toMatch(CALLBACK);
    const claims = (await w.tokens(next.url, verifier, state)).claims()!;
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:pushotp:acr:pwd');
    expect(claims.sub).toBe(w.accountId);
  });
});

describe("noDevice 'refuse'", () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ login: { noDevice: 'refuse' } }); });
  afterAll(() => w.close());

  const REFUSAL = 'Test RP requires a second factor, and you have no authenticator enrolled. Ask your administrator for an enrollment code.';

  it('refuses with a 403 page that says why; no code, and the second-factor steps stay shut', async () => {
    const { browser, next, uid } = await w.startSignIn();
    expect(next.res.status).toBe(403);
    expect(next.url).not.toMatch(CALLBACK);
    expect(next.res.headers.get('content-type')).toMatch(/text\/html/);
    expect(next.body).toContain(REFUSAL);
    expect(next.body).toContain('no_device');
    expect((await auditEvents(w, 'signin.refused')).at(-1)).toMatchObject({ account_id: w.accountId, detail: { reason: 'no_device' } });
    expect((await auditEvents(w, 'signin.success'))).toHaveLength(0);

    // Going around the refusal: the push, passcode and waiting steps need a password step first.
    for (const path of ['/second-factor', '/wait', '/passcode']) {
      const res = await browser.request(`/interaction/${uid}${path}`);
      expect(res.status).toBe(400);
    }
    const page = await browser.go(`/interaction/${uid}`);
    expect(page.url).not.toMatch(CALLBACK);
    expect(page.body).toContain('name="password"');
  });

  // Audit item 3 changed this one: a user who had an authenticator is not "without one"; the
  // sign-in goes to the recovery step instead (test/security/second-factor-removal.test.ts).
  it('a user whose only device was revoked gets no code either, and is sent to the recovery step', async () => {
    const { phone } = await enroll(w, { confirm: true });
    await w.t.idp.deviceService.revokeDevice(w.accountId, phone.deviceId);
    const { next } = await w.startSignIn();
    expect(next.url).toMatch(/\/recovery$/);
    expect(next.body).toContain('You have no working authenticator any more');
    expect(next.url).not.toMatch(CALLBACK);
  });

  it('a user with a device is not refused: the choice page says the password was accepted', async () => {
    await enroll(w);
    const { next } = await w.startSignIn();
    expect(next.url).toMatch(/\/second-factor$/);
    expect(next.body).toContain('Password accepted. One more step to continue to');
  });
});
