import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { PushWorld, matchNumberOf } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, enroll, pushStatus, startWorld, type Phone } from '../signin/helpers.js';

/**
 * Red-team finding (fixed, signin/finish.ts: a sign-in whose push was sent before the end does not
 * finish either). An approval made BEFORE the account's sessions were ended (`user sign-out`,
 * `user disable` then `user enable`) finishes a sign-in AFTER it.
 *
 * Story: the attacker has the password, not the phone. One of the attacker's pushes gets approved
 * (push fatigue: the owner taps Approve, or a phone in the attacker's hands that the admin does not
 * revoke but signs the user out). The owner reports it; the admin runs `user sign-out` (or disables
 * the account, then enables it again). The attacker never followed the approved page. The finish of
 * that sign-in is refused now (its first factor predates the end) - but posting the password again
 * on the SAME interaction (POST /interaction/:uid/login) writes a new first-factor time while
 * state.ts BEGIN_LUA keeps the sign-in's approved challenge; the approval then finishes the sign-in
 * with `mfa`, the code exchanges, and the attacker holds tokens and an SSO session made after the end.
 */
const CB = /^http:\/\/127\.0\.0\.1:1\/cb\?code=/;

describe('an approval from before the end of sessions, replayed by re-posting the password', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  /** Sign-in at the relying app up to an approved push that the attacker does not follow. */
  const approvedButNotFollowed = async (username: string, phone: Phone) => {
    const browser = new FormBrowser(w.t.url);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid offline_access', state, prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const login = await browser.go(url.href);
    const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
    const choice = await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password });
    const wait = await browser.submit(choice.body, /\/push$/, {});
    expect(wait.url).toMatch(/\/wait$/);
    const message = await w.pushService.waitForMessage(phone.subscription!.id, 5000);
    const cid = (message.payload as { cid: string }).cid;
    expect((await phone.phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    expect((await pushStatus(browser, uid)).status).toBe('approved');
    return { browser, uid, loginPage: login.body, verifier, state };
  };

  /**
   * What the attacker gets by posting the password again on the same interaction: the two-step
   * choice page it lands on finishes the kept, approved push by itself; the relying app's consent
   * page (prompt=consent) is answered; the code is exchanged.
   */
  const repostAndFollow = async (s: Awaited<ReturnType<typeof approvedButNotFollowed>>, username: string) => {
    let page = await s.browser.submit(s.loginPage, /\/login$/, { username, password: PushWorld.password });
    if (/\/confirm"/.test(page.body)) page = await s.browser.submit(page.body, /\/confirm$/, {});
    if (!CB.test(page.url)) {
      const status = await pushStatus(s.browser, s.uid).catch(() => null);
      if (status?.status !== 'approved') return null;
      page = await s.browser.go(status.next);
      if (/\/confirm"/.test(page.body)) page = await s.browser.submit(page.body, /\/confirm$/, {});
    }
    if (!CB.test(page.url)) return null;
    return oidc.authorizationCodeGrant(w.rp, new URL(page.url), { pkceCodeVerifier: s.verifier, expectedState: s.state }).catch(() => null);
  };

  it('control: following the approval after `user sign-out` is refused', async () => {
    const username = `ctl-${Date.now()}`;
    const id = await addUser(w, username);
    const phone = await enroll(w, { accountId: id });
    const s = await approvedButNotFollowed(username, phone);
    await w.t.idp.endAccountSessions(id); // npm run admin -- user sign-out
    const status = await pushStatus(s.browser, s.uid).catch(() => null);
    const done = status?.next ? await s.browser.go(status.next) : null;
    expect(done && CB.test(done.url)).toBeFalsy();
  }, 60_000);

  /** An approved push left unfollowed, `end` (the admin's action), then the password posted again. */
  const repostAfter = async (prefix: string, end: (accountId: string) => Promise<void>) => {
    const username = `${prefix}-${Date.now()}`;
    const id = await addUser(w, username);
    const phone = await enroll(w, { accountId: id });
    const s = await approvedButNotFollowed(username, phone);
    await end(id);
    const tokens = await repostAndFollow(s, username);
    // The approval was given before the end: it must not sign anyone in after it.
    return tokens ? { amr: tokens.claims()?.amr, refresh: Boolean(tokens.refresh_token) } : null;
  };

  it('after `user sign-out`, re-posting the password reuses the earlier approval: no tokens may come of it', async () => {
    expect(await repostAfter('so', async (id) => {
      await w.t.idp.endAccountSessions(id); // npm run admin -- user sign-out
      await new Promise((r) => setTimeout(r, 1100)); // the attacker comes back a moment later (not in the end's second)
    })).toBeNull();
  }, 60_000);

  it('after `user disable` then `user enable`, an approval from before the disable signs nobody in', async () => {
    expect(await repostAfter('de', async (id) => {
      // npm run admin -- user disable, then user enable (cli/commands.ts)
      await w.t.idp.accounts.setDisabled(id, true);
      await w.t.idp.endAccountSessions(id);
      await w.t.idp.accounts.setDisabled(id, false);
      await new Promise((r) => setTimeout(r, 5200)); // the per-process account cache
    })).toBeNull();
  }, 60_000);
});
