import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, isLoginPage, newUser, PASSWORD, startSessionWorld, submitHeld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team: the resume checks its result against the end of the account's sessions as
 * oidc-provider reads the interaction (held-results.ts); the rest of the resume (the login, the
 * grant, the code) came after it. A `user set-password` landing in between deleted what existed
 * then, and the resume saved its grant afterwards: the old password's code gave tokens, userinfo
 * and a refresh token for 14 days (offline_access: a code not bound to the session). The exchange
 * now compares the code's sign-in with the account's end, read fresh.
 */
describe('an end of the account\'s sessions during a resume', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  /** What `npm run admin -- user set-password` does (cli/commands.ts), in process for timing. */
  const setPassword = async (id: string, hash: string) => {
    await w.t.idp.accounts.setPasswordHash(id, hash);
    await w.t.idp.endAccountSessions(id);
  };

  const whatItBuys = async (started: Awaited<ReturnType<typeof authorize>>, url: string) => {
    const got: string[] = [];
    if (!atCallback(url)) return got;
    const tokens = await started.tokens(url).catch(() => null);
    if (!tokens) return got;
    got.push('tokens');
    if (await oidc.fetchUserInfo(w.open, tokens.access_token, oidc.skipSubjectCheck).then(() => true, () => false)) got.push('userinfo');
    if (tokens.refresh_token && await oidc.refreshTokenGrant(w.open, tokens.refresh_token).then(() => true, () => false)) got.push('refresh');
    return got;
  };

  it('landing right after the resume\'s check (forced): the code buys nothing', async () => {
    const newHash = await hashPassword('a brand new password 77');
    const id = await newUser(w, `resume-end-${Date.now()}`);
    const username = (await w.t.idp.accounts.findById(id))!.username;
    const provider = w.t.idp.provider as unknown as { Interaction: { find(...a: unknown[]): Promise<{ result?: { login?: { accountId?: string } } } | undefined> } };
    const checked = provider.Interaction.find.bind(provider.Interaction);
    let landed = false;
    provider.Interaction.find = async (...args: unknown[]) => {
      const it = await checked(...args); // the resume's check ran, and passed
      if (!landed && it?.result?.login?.accountId === id) {
        landed = true;
        await setPassword(id, newHash);
      }
      return it;
    };
    try {
      const browser = new FormBrowser(w.t.url);
      const started = await authorize(w.open, browser);
      expect(isLoginPage(started.page)).toBe(true);
      const next = await browser.submit(started.page.body, /\/login$/, { username, password: PASSWORD });
      expect(landed).toBe(true);
      expect(await whatItBuys(started, next.url)).toEqual([]);
    } finally {
      provider.Interaction.find = checked;
    }
  });

  it('held resume URLs fired while the change runs, at several timings: none buys tokens that work after it', async () => {
    const newHash = await hashPassword('a brand new password 77');
    const won: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = await newUser(w, `resume-race-${Date.now()}-${i}`);
      const username = (await w.t.idp.accounts.findById(id))!.username;
      const browser = new FormBrowser(w.t.url);
      const started = await authorize(w.open, browser);
      const held = await submitHeld(browser, started.page.body, /\/login$/, { username, password: PASSWORD });
      expect(held.status).toBe(303);
      const [after] = await Promise.all([
        browser.go(held.headers.get('location')!),
        (async () => { await new Promise((r) => setTimeout(r, (i % 10) * 0.7)); await setPassword(id, newHash); })(),
      ]);
      const got = await whatItBuys(started, after.url);
      if (got.length) won.push(`attempt ${i}: ${got.join(', ')}`);
    }
    expect(won).toEqual([]);
  }, 120_000);
});
