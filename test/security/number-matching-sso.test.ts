import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { enroll, newestChallenge, pushStatus, sendPush, startWorld } from '../signin/helpers.js';
import { matchNumberOf, PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';

/**
 * Red-team: an app registered with number matching off (its pushes are approved with one tap, what
 * push fatigue preys on) opened, by single sign-on, an app that wants number matching: the strict
 * app's code came without any number ever matched. Such a session now makes the strict app ask
 * for a new sign-in (whose push matches a number); a session whose push matched one still opens it.
 */
describe('number matching held across single sign-on', () => {
  let w: PushWorld;
  let strict: oidc.Configuration;
  beforeAll(async () => {
    w = await startWorld({
      login: { numberMatching: false, noDevice: 'refuse' },
      clients: [testRp({ client_id: 'nm-rp', client_name: 'Number-matching RP', login: { consent: 'implicit', numberMatching: true, noDevice: 'refuse' } })],
    });
    strict = await oidc.discovery(new URL(w.t.url), 'nm-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => w.close());

  const strictAuthorize = async (browser: FormBrowser, extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(strict, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    });
    return browser.go(url.href);
  };

  // The matched session first: the unmatched sign-in's mark is by account and second (unmatched-push.ts),
  // and one in the same second would ask this one again too (it fails closed).
  it('a session whose push matched a number (the strict app\'s own) opens the strict app again by single sign-on', async () => {
    const phone = await enroll(w);
    const browser = new FormBrowser(w.t.url);
    const login = await strictAuthorize(browser);
    const choice = await browser.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    const uid = /\/interaction\/([^/?]+)/.exec(choice.url)![1]!;
    const wait = await sendPush(browser, choice.body);
    const challenge = await newestChallenge(phone.phone);
    expect((await phone.phone.respond(challenge.id, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const status = await pushStatus(browser, uid);
    expect(status.status).toBe('approved');
    expect((await browser.go(status.next)).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const again = await strictAuthorize(browser, { prompt: 'none' });
    expect(again.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });
  it('a push approved without a number at the lax app does not open the number-matching app', async () => {
    const phone = await enroll(w);
    const started = await w.startSignIn();
    const wait = await sendPush(started.browser, started.next.body);
    expect(wait.body).not.toMatch(/id="match-number"/);
    const challenge = await newestChallenge(phone.phone);
    expect(challenge.numberMatching ?? false).toBe(false);
    expect((await phone.phone.respond(challenge.id, 'approve')).status).toBe(200);
    const status = await pushStatus(started.browser, started.uid);
    expect(status.status).toBe('approved');
    const done = await started.browser.go(status.next);
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect((await w.tokens(done.url, started.verifier, started.state)).claims()!.amr).toContain('mfa');

    // Silently: login_required. Otherwise: the sign-in page, whose push then asks for a number.
    const silent = await strictAuthorize(started.browser, { prompt: 'none' });
    expect(silent.url).toMatch(/[?&]error=login_required/);
    const page = await strictAuthorize(started.browser);
    expect(page.url).not.toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect(page.body).toContain('name="password"');
  });

});
