import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, isLoginPage, newUser, PASSWORD, startSessionWorld, submitHeld, type SessionWorld } from './session-helpers.js';
import { endedSince } from '../../src/oidc/held-results.js';
import { firstFactorEnded } from '../../src/signin/finish.js';

/**
 * Red-team findings (fixed): a finished sign-in's result resumed after the account's sessions were
 * ended. (a) A result resumed within 2 s of its finish was not checked, so an end landing between
 * finish and resume (an attacker looping sign-ins with the old password) was missed; every resume
 * is checked now. (b) Whole seconds: a first factor earlier in the end's second counted as "not
 * ended"; the checks compare milliseconds now.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('held results vs. the end of the account\'s sessions', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  it('(a) an end between the finish and a resume 1 s later: no tokens, no session', async () => {
    const id = await newUser(w, 'rtf-window');
    const attacker = new FormBrowser(w.t.url);
    const started = await authorize(w.open, attacker);
    expect(isLoginPage(started.page)).toBe(true);
    const res = await submitHeld(attacker, started.page.body, /\/login$/, { username: 'rtf-window', password: PASSWORD });
    expect(res.status).toBe(303);
    const resume = res.headers.get('location')!;
    await sleep(1050);
    await w.t.idp.endAccountSessions(id); // what set-password / sign-out / a revoke do
    const after = await attacker.go(resume); // about 1.1 s after the finish
    let tokens = null;
    if (atCallback(after.url)) tokens = await started.tokens(after.url).catch(() => null);
    expect(tokens).toBeNull();
    expect(isLoginPage((await authorize(w.open, attacker)).page)).toBe(true);
  });

  it('(b) a first factor 500 ms before the end, in the same second, is ended', () => {
    expect(firstFactorEnded(10_100, new Date(10_600))).toBe(true);
    expect(endedSince({ firstFactorAt: 10_100 }, 10_600)).toBe(true);
  });
});
