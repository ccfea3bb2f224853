import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { enroll, newestChallenge, pushStatus, sendPush, startWorld } from '../signin/helpers.js';
import { matchNumberOf, PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';

/**
 * Red-team (sessions): an app registered with Verified Push (the user types the number: a guess is
 * right 1 in 90) took, by single sign-on, a session whose push was approved by picking one of
 * three numbers at another app (1 in 3): silently, with prompt=none. Such a session now makes the
 * Verified Push app ask for a new sign-in; a session whose number was typed still opens it.
 */
describe('Verified Push held across single sign-on', () => {
  let w: PushWorld;
  let vp: oidc.Configuration;
  beforeAll(async () => {
    w = await startWorld({
      login: { numberMatching: true, noDevice: 'refuse' }, // the default app: three numbers to pick from
      clients: [testRp({ client_id: 'vp-rp', client_name: 'Verified Push RP', login: { consent: 'implicit', numberMatching: true, verifiedPush: true, noDevice: 'refuse' } })],
    });
    vp = await oidc.discovery(new URL(w.t.url), 'vp-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => w.close());

  const vpAuthorize = async (browser: FormBrowser, extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(vp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    });
    return browser.go(url.href);
  };

  // The typed session first: marks are by account and second, and one in the same second would ask this one again too (fails closed).
  it('a session whose number was typed (the Verified Push app\'s own sign-in) opens that app again by single sign-on', async () => {
    const phone = await enroll(w);
    const browser = new FormBrowser(w.t.url);
    const login = await vpAuthorize(browser);
    const choice = await browser.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    const uid = /\/interaction\/([^/?]+)/.exec(choice.url)![1]!;
    const wait = await sendPush(browser, choice.body);
    const challenge = await newestChallenge(phone.phone);
    expect(challenge.numberChoices ?? null).toBeNull(); // typed, never chosen
    expect((await phone.phone.respond(challenge.id, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const status = await pushStatus(browser, uid);
    expect((await browser.go(status.next)).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect((await vpAuthorize(browser, { prompt: 'none' })).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });

  it('a push approved by picking 1 of 3 numbers at the other app does not open the Verified Push app; that app asks for a sign-in', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // another sign-in second than the test above
    const phone = await enroll(w);
    const started = await w.startSignIn();
    const wait = await sendPush(started.browser, started.next.body);
    const challenge = await newestChallenge(phone.phone);
    expect((challenge.numberChoices as unknown[]).length).toBe(3);
    expect((await phone.phone.respond(challenge.id, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const status = await pushStatus(started.browser, started.uid);
    expect((await started.browser.go(status.next)).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);

    const silent = await vpAuthorize(started.browser, { prompt: 'none' });
    expect(new URL(silent.url).searchParams.get('error')).toBe('login_required');
    const shown = await vpAuthorize(started.browser);
    expect(shown.url).toMatch(/\/interaction\//);
    // The app whose own policy the pick met still takes the session.
    const verifier = oidc.randomPKCECodeVerifier();
    const own = await started.browser.go(oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: 's', prompt: 'none', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).href);
    expect(own.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });
});
