import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACCOUNT_POLICY, PASSCODE_POLICY } from '../../src/defences/throttle.js';
import { adminCli } from '../support/admin-cli.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { authenticate, freshIp, PASSWORD, startAgentWorld } from '../agent-api/helpers.js';
import { addUser, auditEvents, CALLBACK, enroll, movableClock, sendPush, textOf } from '../signin/helpers.js';

/**
 * Attack: someone holding a user's password guesses passcodes slowly, one per lockout period, for
 * as long as it takes (96 a day kept forever gave about a 10% chance a year against a 6-digit code
 * with one step of drift). NIST SP 800-63B 5.2.2 caps consecutive failed attempts at 100: after the
 * hundredth wrong passcode, at whichever door, no passcode is checked at any door until an admin's
 * `user unlock` (or 30 days without a guess), while the owner's push approval still gets in.
 */
describe('passcodes: at most 100 wrong ones in a row', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld({ now: clock.now }); });
  afterAll(() => w.close());

  it('the 100th wrong passcode locks passcodes at every door until user unlock; push still works', async () => {
    const username = `cap-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(w, username);
    const { phone, subscription } = await enroll(w, { accountId, now: clock.now });
    let ahead = 0;
    const wrong = () => String((Number(phone.currentTotp()) + 500_000) % 1_000_000).padStart(6, '0');

    // Through the gateway, the right password and a wrong passcode, from ever new addresses, paced
    // so the lockout never comes: nine guesses past each delay, then a pause past the window, which
    // forgets those nine (red-team: about 800 checks a day this way). Every one is checked and fails.
    for (let i = 0; i < PASSCODE_POLICY.capAfter!; i++) {
      const res = await authenticate(w, { username, password: PASSWORD, passcode: wrong(), client_ip: freshIp() });
      expect([i, res.status]).toEqual([i, 403]);
      const wait = ACCOUNT_POLICY.maxDelayMs + 1000 + (i % 9 === 8 ? ACCOUNT_POLICY.windowMs : 0);
      clock.advance(wait);
      ahead += wait;
    }
    expect((await auditEvents(w, 'signin.throttled')).filter((e) => e.account_id === accountId)).toHaveLength(0);

    // One wrong guess in the current window, yet the right passcode is refused, and not checked.
    const capped = await authenticate(w, { username, password: PASSWORD, passcode: phone.currentTotp(), client_ip: freshIp() });
    expect(capped.status).toBe(429);
    expect(capped.body).toMatchObject({ error: 'rate_limited' });
    expect(String(capped.body.error_description)).toContain('user unlock');
    expect(Number(capped.headers.get('retry-after'))).toBeGreaterThan(29 * 86_400);

    // Days later still (the lockout alone would have let one guess through every 15 minutes).
    clock.advance(20 * 86_400_000);
    ahead += 20 * 86_400_000;
    expect((await authenticate(w, { username, password: PASSWORD, passcode: phone.currentTotp(), client_ip: freshIp() })).status).toBe(429);

    // Back to the real time for the browser (oidc-provider dates its sessions by its own clock,
    // so a sign-in three weeks ahead would be too old at once); the cap does not care either way.
    clock.advance(-ahead);

    // The login page, another door: the right code is refused and the page says why and what to do.
    const page = await w.startSignIn({ username });
    const form = await page.browser.go(`/interaction/${page.uid}/passcode`);
    const typed = await page.browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(typed.res.status).toBe(429);
    expect(typed.url).not.toMatch(CALLBACK);
    expect(textOf(typed.body, 'passcode-error')).toContain('Passcodes are locked for this account after too many wrong ones in a row');

    // The owner's approval still gets them in; it does not reopen the passcodes for the guesser.
    const wait = await sendPush(page.browser, typed.body);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).body).toEqual({ status: 'approved' });
    expect((await page.browser.go(`/interaction/${page.uid}/wait`)).url).toMatch(CALLBACK);
    expect((await authenticate(w, { username, password: PASSWORD, passcode: phone.currentTotp(), client_ip: freshIp() })).status).toBe(429);

    const throttled = (await auditEvents(w, 'signin.throttled')).filter((e) => e.account_id === accountId && e.detail.reason === 'capped');
    expect(throttled.length).toBeGreaterThanOrEqual(3);

    // An admin lifts it; the right passcode then gets in at once.
    const env = { DATABASE_URL: w.t.settings.databaseUrl!, REDIS_URL: w.t.settings.redisUrl!, REDIS_PREFIX: w.t.idp.redis.options.keyPrefix!, DATA_DIR: w.t.settings.dataDir };
    expect(await adminCli(['user', 'unlock', username], { env })).toContain(`${username}'s guess counts are cleared`);
    expect(await adminCli(['user', 'unlock', username], { env })).toContain(`${username} had no guess counts`);
    expect((await auditEvents(w, 'admin.user.unlock')).filter((e) => e.account_id === accountId)).toHaveLength(2);
    clock.advance(30_000); // a fresh TOTP step: the approval used the last one
    const after = await authenticate(w, { username, password: PASSWORD, passcode: phone.currentTotp(), client_ip: freshIp() });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'approved' });
  });
  // Red-team: recovery codes count on the same key under the account's policy (no cap); their
  // count cut the key's life from 30 days to half an hour, and after that wait the run was gone.
  it('a wrong recovery code does not shorten the run: after it the cap still comes at the 100th in a row', async () => {
    const username = `cap-rec-${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(w, username);
    const { phone } = await enroll(w, { accountId, now: clock.now, push: false });
    const wrong = () => String((Number(phone.currentTotp()) + 500_000) % 1_000_000).padStart(6, '0');
    let ahead = 0;
    const guess = async (i: number) => {
      const res = await authenticate(w, { username, password: PASSWORD, passcode: wrong(), client_ip: freshIp() });
      const pause = ACCOUNT_POLICY.maxDelayMs + 1000 + (i % 9 === 8 ? ACCOUNT_POLICY.windowMs : 0);
      clock.advance(pause);
      ahead += pause;
      return res.status;
    };
    for (let i = 0; i < PASSCODE_POLICY.capAfter! - 1; i++) expect([i, await guess(i)]).toEqual([i, 403]);
    const key = `thr:otp:${accountId}`;
    const before = await w.t.idp.redis.pttl(key);
    expect(before).toBeGreaterThan(29 * 86_400_000);

    const page = await w.startSignIn({ username });
    const rec = await page.browser.go(`/interaction/${page.uid}/recovery`);
    const r = await page.browser.submit(rec.body, /\/recovery$/, { code: 'AAAA-BBBB-CCCC-DDDD' });
    expect(r.res.status).toBe(401);
    expect(await w.t.idp.redis.pttl(key)).toBeGreaterThan(before - 60_000);

    clock.advance(ACCOUNT_POLICY.windowMs + ACCOUNT_POLICY.lockoutMs + 1000);
    ahead += ACCOUNT_POLICY.windowMs + ACCOUNT_POLICY.lockoutMs + 1000;
    expect(await guess(99)).toBe(403); // the 100th wrong passcode in a row, checked
    const capped = await authenticate(w, { username, password: PASSWORD, passcode: phone.currentTotp(), client_ip: freshIp() });
    expect(capped.status).toBe(429);
    expect(capped.body).toMatchObject({ error: 'rate_limited' });
    clock.advance(-ahead);
  });
});
