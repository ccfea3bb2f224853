import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addUser, CALLBACK, startWorld } from '../signin/helpers.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Red-team finding: /account (and the SAML finish) accepted a callback in "the browser that holds
 * the IdP session the code came from" by comparing the account only. A browser holding ANY live session of
 * the account passes: here a password-only session the attacker made before the user's first phone.
 * The victim's MFA code, replayed there, gave the attacker an /account session with amr mfa and a
 * fresh auth_time: they enrolled a phone of their own next to the user's. Now the code must come
 * from this very browser's SSO session.
 */
describe('/account finished with another session of the same account', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('a victim\'s MFA code replayed in a browser holding an older password-only session opens no /account with mfa', async () => {
    const bobId = await addUser(w, 'bob');
    // 1. Before bob has a phone: the attacker signs in with the password alone (noDevice password-only).
    const attacker = new FormBrowser(w.t.url);
    const pw = await w.startSignIn({ username: 'bob' }, attacker);
    expect(pw.next.url).toMatch(CALLBACK);
    // 2. Bob's first phone (an administrator's code), and his own sign-in with it.
    const phone = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(bobId, 'admin')).code, { name: 'bob phone' });
    await phone.pending();
    const victim = new FormBrowser(w.t.url);
    const v = await w.startSignIn({ username: 'bob' }, victim);
    const pc = await victim.go(`/interaction/${v.uid}/passcode`);
    expect((await victim.submit(pc.body, /\/passcode$/, { passcode: phone.currentTotp() })).url).toMatch(CALLBACK);
    // 3. The attacker starts /account's sign-in; the victim's browser answers the authorization URL.
    const start = await attacker.request('/account/login');
    const authUrl = start.headers.get('location')!;
    expect(authUrl).toContain('/auth?');
    const answered = await victim.go(authUrl);
    expect(answered.url).toContain('/account/callback?code=');
    // 4. Replayed in the attacker's browser: secure = refused; never an /account that can add a device.
    const stolen = await attacker.go(answered.url);
    expect(stolen.res.status).toBe(400);
    expect(stolen.body).toContain('This sign-in did not finish in this browser.');
    expect(stolen.body).not.toContain('action="/account/enroll"');
    const before = (await w.t.idp.devices.listByAccount(bobId)).length;
    const tryEnroll = await attacker.submit(stolen.body, '/account/enroll', {}).catch(() => null);
    const code = tryEnroll?.body.match(/id="enroll-code">([^<]+)</)?.[1];
    if (code) await SimulatedAuthenticator.enroll(w.t.url, code, { name: 'attacker phone' });
    expect((await w.t.idp.devices.listByAccount(bobId)).length).toBe(before);
  });

  it('the browser whose session made the code still finishes: /account opens', async () => {
    const carolId = await addUser(w, 'carol');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(carolId, 'admin')).code, { name: 'carol phone' });
    await phone.pending();
    const own = new FormBrowser(w.t.url);
    const s = await w.startSignIn({ username: 'carol' }, own);
    const pc = await own.go(`/interaction/${s.uid}/passcode`);
    expect((await own.submit(pc.body, /\/passcode$/, { passcode: phone.currentTotp() })).url).toMatch(CALLBACK);
    const page = await own.go('/account/login');
    expect(page.url).toBe(`${w.t.url}/account`);
    expect(page.body).toContain('action="/account/enroll"');
  });
});
