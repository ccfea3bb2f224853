import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, CALLBACK, enroll } from './helpers.js';

/**
 * Red-team (browser journeys): the passcode sent twice (Enter, then "Continue" while the first
 * answer was on its way; a slow network, or no JavaScript) finished the sign-in with the first POST,
 * and the browser showed the second's answer: "This sign-in has ended", a 400. No session was made,
 * the app heard nothing, the passcode was spent; F5 on the waiting page said the same. A page of a
 * sign-in this browser has just finished now goes on to the app as the first answer would have.
 */
describe('a finished sign-in\'s page asked again by the same browser', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres' } }); });
  afterAll(() => w.close());

  it('the passcode posted twice: both answers lead to the app, which gets one sign-in', async () => {
    const username = `twice-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(w, username);
    const { phone } = await enroll(w, { accountId });
    const p = await w.startSignIn({ username });
    const form = await p.browser.go(`/interaction/${p.uid}/passcode`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const post = () => p.browser.request(`/interaction/${p.uid}/passcode`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, passcode: phone.currentTotp() }).toString(),
    });
    const first = await post(); // its answer never reaches the page: the browser shows the second's
    const second = await post();
    expect(first.status).toBe(303);
    expect(second.status).toBe(303);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    // F5 on the waiting page meanwhile goes the same way.
    const reload = await p.browser.request(`/interaction/${p.uid}/wait`);
    expect([reload.status, reload.headers.get('location')]).toEqual([303, first.headers.get('location')]);
    // A script's status poll is not sent on to the resume (its fetch would follow it unseen).
    const poll = await p.browser.request(`/interaction/${p.uid}/push/status?wait=0`, { headers: { accept: 'application/json' } });
    expect(poll.status).toBe(400);

    const done = await p.browser.go(second.headers.get('location')!);
    expect(done.url).toMatch(CALLBACK);
    const tokens = await w.tokens(done.url, p.verifier, p.state);
    expect(tokens.claims()).toMatchObject({ sub: accountId, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    expect((await auditEvents(w, 'signin.success')).filter((e) => e.account_id === accountId)).toHaveLength(1);
  });

  it('a sign-in that ended without finishing still says so (cancelled: no way on to the app)', async () => {
    const username = `ended-${Math.random().toString(36).slice(2, 8)}`;
    await addUser(w, username);
    const p = await w.startSignIn({ username });
    await w.t.idp.signin.cancel(p.uid, 'test-rp');
    const page = await p.browser.request(`/interaction/${p.uid}/wait`);
    expect(page.status).toBe(400);
  });
});
