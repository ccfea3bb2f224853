import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Red-team (account round, 2026-12-05): a sign-out was undone by any request in flight. The SSO
 * session's row was deleted, and oidc-provider saves every session a request loaded when that
 * request ends: a `/auth` that read the session before the delete wrote it back after it. A copy
 * of the cookies kept busy so (a cookie thief, another tab of a shared computer) still opened
 * /account after the owner pressed Sign out, got an enrollment code and enrolled a phone of its
 * own; after /session/end it still got codes by single sign-on. A session is now ended by a mark
 * that no later save undoes.
 */
describe('a sign-out stays a sign-out with requests in flight', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start(); }, 60_000);
  afterAll(() => w.close());

  /** The owner inside /account with a phone; a copy of every cookie; 25 busy /auth requests carrying the copy. */
  async function ownerAndBusyCopy(username: string) {
    const account = await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PushWorld.password) });
    const offer = await w.t.idp.deviceService.issueEnrollment(account.id, 'admin-cli');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { name: 'Owner phone' });
    await phone.pending();
    const owner = new FormBrowser(w.t.url);
    const login = await owner.go('/account');
    const second = await owner.submit(login.body, /\/login$/, { username, password: PushWorld.password });
    const passcode = await owner.go(second.url.replace(/second-factor$/, 'passcode'));
    const inside = await owner.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(inside.url).toBe(`${w.t.url}/account`);
    const copy = new FormBrowser(w.t.url);
    copy.adoptCookies(owner, '');
    const cookie = copy.cookieHeader();
    const authUrl = `${w.t.url}/auth?` + new URLSearchParams({
      client_id: 'account-console', response_type: 'code', redirect_uri: `${w.t.url}/account/callback`, scope: 'openid',
      prompt: 'none', state: 'x', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    }).toString();
    const ssoAnswer = async () => new URL((await fetch(authUrl, { headers: { cookie }, redirect: 'manual' })).headers.get('location')!);
    expect((await ssoAnswer()).searchParams.get('code')).toBeTruthy();
    let stop = false;
    const worker = async () => { while (!stop) await fetch(authUrl, { headers: { cookie }, redirect: 'manual' }).then((r) => r.arrayBuffer()).catch(() => undefined); };
    const workers = Array.from({ length: 25 }, worker);
    await new Promise((r) => setTimeout(r, 300));
    const settle = async () => { await new Promise((r) => setTimeout(r, 300)); stop = true; await Promise.all(workers); };
    return { account, owner, copy, inside, ssoAnswer, settle };
  }

  it('/account "Sign out": the copy is signed out too and cannot get an enrollment code', async () => {
    const { account, owner, copy, inside, ssoAnswer, settle } = await ownerAndBusyCopy('inflight1');
    const csrf = inside.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const out = await owner.request('/account/logout', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}` });
    expect(out.status).toBe(303);
    await settle();
    expect((await owner.go('/account')).body).toContain('name="password"');
    const page = await copy.go('/account');
    expect(page.body).toContain('name="password"');
    expect(page.body).not.toContain('Owner phone');
    expect((await ssoAnswer()).searchParams.get('error')).toBe('login_required');
    // The old page's form, posted by the copy: refused, no code, no new device.
    const offer = await copy.request('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}` });
    expect(offer.status).toBeGreaterThanOrEqual(300);
    expect(await offer.text()).not.toMatch(/id="enroll-code"/);
    expect((await w.t.idp.devices.listByAccount(account.id)).map((d) => d.name)).toEqual(['Owner phone']);
  }, 60_000);

  it('an enrollment code /account issued ends with its session: after "Sign out" it enrolls nothing', async () => {
    const { account, owner, inside, settle } = await ownerAndBusyCopy('inflight3');
    await settle();
    const offer = await owner.submit(inside.body, '/account/enroll', {});
    const code = offer.body.match(/id="enroll-code">([^<]+)</)![1]!;
    const csrf = inside.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    expect((await owner.request('/account/logout', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}` })).status).toBe(303);
    // Whoever saw the code (a shared screen, the browser's history) after the owner signed out:
    await expect(SimulatedAuthenticator.enroll(w.t.url, code, { name: 'intruder' })).rejects.toMatchObject({ status: 400 });
    expect((await w.t.idp.devices.listByAccount(account.id)).map((d) => d.name)).toEqual(['Owner phone']);
  }, 60_000);

  it('an /account code ends with its SSO session however it ends: /session/end here, and whatever it could not enroll stays unenrolled', async () => {
    const { account, owner, inside, settle } = await ownerAndBusyCopy('inflight4');
    await settle();
    const offer = await owner.submit(inside.body, '/account/enroll', {});
    const code = offer.body.match(/id="enroll-code">([^<]+)</)![1]!;
    const page = await owner.go('/session/end');
    expect((await owner.submit(page.body, /\/session\/end\/confirm$/, { logout: 'yes' })).res.status).toBe(200);
    await expect(SimulatedAuthenticator.enroll(w.t.url, code, { name: 'intruder' })).rejects.toMatchObject({ status: 400 });
    expect((await w.t.idp.devices.listByAccount(account.id)).map((d) => d.name)).toEqual(['Owner phone']);
  }, 60_000);

  it('/session/end: the copy gets login_required, not a code', async () => {
    const { owner, ssoAnswer, settle } = await ownerAndBusyCopy('inflight2');
    const page = await owner.go('/session/end');
    const done = await owner.submit(page.body, /\/session\/end\/confirm$/, { logout: 'yes' });
    expect(done.res.status).toBe(200);
    await settle();
    expect((await ssoAnswer()).searchParams.get('error')).toBe('login_required');
  }, 60_000);
});
